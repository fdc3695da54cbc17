//! The safe API against a real EAL on virtual devices (no hugepages needed). The EAL starts once
//! per process, so this is one test that walks through the API in order.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dpdk::clock;
use dpdk::eal::Eal;
use dpdk::lcore::LCORE_PANICKED;
use dpdk::link_events::LinkWatch;
use dpdk::mbuf::Burst;
use dpdk::mempool;
use dpdk::port::{self, PortConfig};

#[test]
fn eal_ports_bursts_lcores_and_links() {
    let prefix = format!("dpdkapi{}", std::process::id());
    let args: Vec<String> = [
        "-l",
        "0,1",
        "--main-lcore",
        "0",
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        "--file-prefix",
        &prefix,
        "--vdev",
        "net_null0",
        "--vdev",
        "net_ring0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&args).expect("EAL starts on virtual devices");
    assert_eq!(eal.lcore_count(), 2);
    assert!(eal.version().starts_with("DPDK "), "{}", eal.version());
    assert!(Eal::init(&args).is_err(), "a second init is refused, not undefined behaviour");
    assert!(clock::tsc_hz() > 1_000_000);

    // Both vdevs probed: the PMD plugins were loaded (a binary that never loads them sees 0 ports).
    let ports = port::available_ports();
    assert_eq!(ports.len(), 2, "ports: {ports:?}");
    let null = port::info(ports[0]).unwrap();
    let ring = port::info(ports[1]).unwrap();
    assert_eq!((null.name.as_str(), null.driver.as_str()), ("net_null0", "net_null"));
    assert_eq!(ring.driver, "net_ring");
    assert!(port::info(999).is_err());
    assert_eq!(port::port_by_name("net_ring0"), Some(ports[1]));
    assert_eq!(port::port_by_name("net_nothing9"), None);

    let pool = Arc::new(eal.pktmbuf_pool("t_pool", 4095, 64, mempool::default_buf_size(), -1).unwrap());
    let cfg = PortConfig {
        rx_queues: 1,
        tx_queues: 1,
        rx_desc: 256,
        tx_desc: 256,
        rss: false,
        lsc_interrupt: true,
        fast_free: true,
        mtu: None,
        rx_scatter: false,
    };
    // One handle per port: a second, or an id DPDK does not know, is refused.
    let mut handles: Vec<_> = ports.iter().map(|&p| eal.take_port(p).unwrap()).collect();
    assert_eq!(eal.take_port(ports[0]).unwrap_err().errno, libc::EBUSY);
    assert_eq!(eal.take_port(999).unwrap_err().errno, libc::ENODEV);
    assert!(handles[0].queues().is_err(), "no queues before the port is configured");
    let mut watch = LinkWatch::new(16);
    for p in &mut handles {
        let d = p.configure(&cfg, &pool).unwrap();
        assert!(d.rx > 0 && d.tx > 0);
        watch.watch(p.id(), p.info().unwrap().lsc_interrupt).unwrap();
        p.start().unwrap();
    }
    let (null_port, ring_port) = (&handles[0], &handles[1]);
    let mut null_q = null_port.queues().unwrap();
    let ring_q = ring_port.queues().unwrap();
    assert!(ring_port.queues().is_err(), "each queue has one handle");
    assert_eq!((ring_q.rx.len(), ring_q.tx.len()), (1, 1));
    let (ring_rx, ring_tx) = (&ring_q.rx[0], &ring_q.tx[0]);
    let mac = [0x52, 0x54, 0, 0, 0, 1];
    port::set_mac(ports[0], mac).unwrap();
    assert_eq!(port::mac(ports[0]).unwrap(), mac);
    assert!(port::link(ports[0], false).unwrap().up);
    watch.poll();
    assert!(watch.drain().is_empty(), "the first look at a link is a baseline, not an event");

    // Generate 32 frames into the ring port and read them back: bytes survive the round trip.
    let ring_id = ports[1];
    let mut b = Burst::new();
    assert!(b.alloc(&pool, 32));
    assert!(b.fill_from(0, 64, |i, f| {
        f.fill(0);
        f[0] = i as u8;
    }));
    assert!(!b.fill_from(0, 4000, |_, _| {}), "a frame larger than the data room is refused");
    assert_eq!(ring_tx.tx_burst(&mut b), 32);
    assert!(b.is_empty());
    assert_eq!(ring_tx.tx_burst(&mut b), 0, "an empty burst sends nothing");
    ring_tx.flush();
    assert_eq!(ring_rx.rx_burst(&mut b, 64), 32);
    let mut firsts = Vec::new();
    b.for_each_data(|_, f| firsts.push((f[0], f.len())));
    assert_eq!(firsts, (0..32).map(|i| (i as u8, 64)).collect::<Vec<_>>());
    assert_eq!(b.packet(5)[0], 5);
    // The inline reader (mbuf offsets from the shim) sees the same bytes as the shim's.
    let inline: Vec<(u8, usize)> = b.frames().map(|f| (f.head()[0], f.head().len())).collect();
    assert_eq!(inline, firsts);
    assert!(b.frames().all(|f| f.len() == 64 && !f.is_segmented()), "one segment: pkt_len = data_len");
    assert_eq!(b.info(0).pkt_len, 64);
    assert_eq!(b.info(0).nb_segs, 1);
    // Retaining: the odd frames are freed at once, the even ones move up in order.
    let in_use = pool.in_use();
    assert_eq!(b.retain_data(|_, f| f[0] % 2 == 0), 16);
    assert_eq!(b.len(), 16);
    assert_eq!(pool.in_use(), in_use - 16, "the refused frames went back to the pool");
    let kept: Vec<u8> = b.frames().map(|f| f.head()[0]).collect();
    assert_eq!(kept, (0..32).step_by(2).map(|i| i as u8).collect::<Vec<_>>());
    let in_use = pool.in_use();
    b.free_all();
    assert!(pool.in_use() < in_use, "freed mbufs return to the pool");

    // A burst dropped while holding packets frees them.
    let before = pool.available();
    {
        let mut held = Burst::new();
        assert!(held.alloc(&pool, 16));
        assert!(pool.available() < before);
    }
    assert_eq!(pool.available(), before);

    // Port counters see the traffic.
    let s = port::stats(ring_id).unwrap();
    assert_eq!((s.tx_packets, s.rx_packets), (32, 32));
    assert!(!port::xstats(ring_id).unwrap().is_empty());
    port::stats_reset(ring_id).unwrap();
    assert_eq!(port::stats(ring_id).unwrap().rx_packets, 0);

    // Chained mbufs, as a scattering driver delivers a jumbo frame, through the ring and back:
    // the frame is its first segment's bytes plus its whole length, and gathering copies its
    // start across the segments. A first segment of 20 bytes (headers split over two).
    let mut c = Burst::new();
    assert!(c.alloc(&pool, 1) && c.fill_from(0, 1000, |_, f| f.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8)));
    assert!(c.alloc(&pool, 1) && c.fill_from(1, 500, |_, f| f.fill(0xee)));
    assert!(c.alloc(&pool, 2) && c.fill_from(2, 20, |_, f| f.fill(1)));
    assert!(c.fill_from(3, 60, |_, f| f.fill(2)));
    assert!(!c.chain(0, 0) && !c.chain(0, 9), "the same packet or one out of the burst");
    assert!(c.chain(0, 1) && c.chain(1, 2), "packets 0+1 and (moved up) 2+3");
    assert_eq!(c.len(), 2);
    assert_eq!(ring_tx.tx_burst(&mut c), 2);
    assert_eq!(ring_rx.rx_burst(&mut c, 8), 2);
    let seen: Vec<(usize, usize, bool)> = c.frames().map(|f| (f.head().len(), f.len(), f.is_segmented())).collect();
    assert_eq!(seen, [(1000, 1500, true), (20, 80, true)]);
    assert_eq!((c.info(0).pkt_len, c.info(0).nb_segs), (1500, 2));
    let mut buf = [0u8; 1200];
    let frames: Vec<_> = c.frames().collect();
    let g = frames[0].gather(&mut buf);
    assert_eq!(g.len(), 1200);
    assert!(g[..1000].iter().enumerate().all(|(i, &x)| x == i as u8) && g[1000..].iter().all(|&x| x == 0xee));
    let mut small = [0u8; 128];
    let g = frames[1].gather(&mut small);
    assert_eq!(g.len(), 80, "no more than the frame has");
    assert!(g[..20].iter().all(|&x| x == 1) && g[20..].iter().all(|&x| x == 2));
    let in_use = pool.in_use();
    drop(c);
    assert_eq!(pool.in_use(), in_use - 4, "dropping the burst frees every segment");

    // A closure on lcore 1 polls net_null through the queue handle moved onto it and reports
    // back; a panicking one is caught.
    let got = AtomicU64::new(0);
    let counted = &got;
    let rxq = null_q.rx.remove(0);
    let ret = eal.scope(|lcores| {
        assert_eq!(lcores.launch(0, || 0).unwrap_err().errno, libc::EINVAL, "not on the main lcore");
        assert_eq!(lcores.launch(5, || 0).unwrap_err().errno, libc::EINVAL, "not an lcore of this EAL");
        let running = lcores
            .launch(1, move || {
                let mut b = Burst::new();
                let mut n = 0u64;
                while n < 10_000 {
                    n += u64::from(rxq.rx_burst(&mut b, 32));
                    b.free_all();
                }
                counted.store(n, Ordering::Relaxed);
                7
            })
            .unwrap();
        assert_eq!(running.lcore(), 1);
        running.join()
    });
    assert_eq!(ret, 7);
    assert!(got.load(Ordering::Relaxed) >= 10_000);
    // Silence the expected panics' messages, then restore the default hook.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    assert_eq!(eal.scope(|lcores| lcores.launch(1, || panic!("on purpose")).unwrap().join()), LCORE_PANICKED);
    // The scope waits for its lcores on every way out: here the main lcore's side panics while
    // lcore 1 still runs (and busy, it refuses a second launch); the panic goes on after it.
    let done = AtomicBool::new(false);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eal.scope(|lcores| {
            lcores
                .launch(1, || {
                    std::thread::sleep(Duration::from_millis(200));
                    done.store(true, Ordering::SeqCst);
                    0
                })
                .unwrap();
            assert_eq!(lcores.launch(1, || 0).unwrap_err().errno, libc::EBUSY);
            panic!("the main lcore's side fails");
        })
    }));
    std::panic::set_hook(hook);
    assert!(unwound.is_err(), "the panic went on");
    assert!(done.load(Ordering::SeqCst), "the scope waited for lcore 1 first");

    drop(watch);
    drop((null_q, ring_q, b));
    for mut p in handles {
        p.stop().unwrap();
        p.close().unwrap();
    }
    assert_eq!(pool.in_use(), 0, "every mbuf is back once the bursts and ports are gone");
    drop(pool);
    drop(eal);
}
