//! Which lcore polls which port queue and sends where: testpmd's "streams" with its paired
//! port topology (0<->1, 2<->3; an odd last port forwards to itself). A reflector sends back
//! out of the port a frame came in on.

pub use vflag_contract::report::Stream;

use crate::mode::FwdMode;

/// The peer of the port at index `i` of `ports`.
pub fn peer(ports: &[u16], i: usize) -> u16 {
    let j = i ^ 1;
    if j < ports.len() {
        ports[j]
    } else {
        ports[i]
    }
}

/// All streams for `ports` with `queues` rx queues each. Forwarding modes send to the peer port
/// on the same queue index; rxonly and txonly stay on their own port.
pub fn streams(ports: &[u16], queues: u16, mode: FwdMode) -> Vec<Stream> {
    let mut out = Vec::with_capacity(ports.len() * queues as usize);
    for q in 0..queues {
        for (i, &p) in ports.iter().enumerate() {
            let tx_port = match mode {
                FwdMode::Io | FwdMode::Mac | FwdMode::Macswap => peer(ports, i),
                FwdMode::Rxonly | FwdMode::Txonly | FwdMode::Gen | FwdMode::Reflect | FwdMode::GenRx => p,
            };
            out.push(Stream { rx_port: p, rx_queue: q, tx_port, tx_queue: q });
        }
    }
    out
}

/// Deals streams round-robin to `lcores` forwarding lcores (an lcore may get none).
pub fn assign(streams: &[Stream], lcores: usize) -> Vec<Vec<Stream>> {
    let mut out = vec![Vec::new(); lcores];
    for (i, s) in streams.iter().enumerate() {
        out[i % lcores].push(*s);
    }
    out
}

/// Splits `total` over `n` shares as evenly as possible (the first ones get the remainder).
pub fn split_count(total: u64, n: usize) -> Vec<u64> {
    let n64 = n as u64;
    (0..n64).map(|i| total / n64 + u64::from(i < total % n64)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_topology() {
        assert_eq!(peer(&[0, 1], 0), 1);
        assert_eq!(peer(&[0, 1], 1), 0);
        assert_eq!(peer(&[0, 1, 2], 2), 2);
        assert_eq!(peer(&[5], 0), 5);
    }

    #[test]
    fn io_streams_cross_ports_and_keep_queue_index() {
        let s = streams(&[0, 1], 2, FwdMode::Io);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0], Stream { rx_port: 0, rx_queue: 0, tx_port: 1, tx_queue: 0 });
        assert_eq!(s[3], Stream { rx_port: 1, rx_queue: 1, tx_port: 0, tx_queue: 1 });
        // Every tx queue is written by exactly one stream: no locks needed.
        let mut tx: Vec<(u16, u16)> = s.iter().map(|s| (s.tx_port, s.tx_queue)).collect();
        tx.sort();
        tx.dedup();
        assert_eq!(tx.len(), s.len());
    }

    #[test]
    fn txonly_and_rxonly_stay_on_their_port() {
        for m in [FwdMode::Txonly, FwdMode::Rxonly, FwdMode::Reflect, FwdMode::GenRx] {
            assert!(streams(&[0, 1], 1, m).iter().all(|s| s.tx_port == s.rx_port));
        }
    }

    #[test]
    fn streams_are_dealt_round_robin() {
        let s = streams(&[0, 1], 2, FwdMode::Rxonly);
        let a = assign(&s, 2);
        assert_eq!(a[0].len(), 2);
        assert_eq!(a[1].len(), 2);
        assert_eq!(assign(&s, 1)[0].len(), 4);
        assert!(assign(&s[..1], 3)[2].is_empty());
    }

    #[test]
    fn counts_split_evenly() {
        assert_eq!(split_count(10, 3), vec![4, 3, 3]);
        assert_eq!(split_count(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(split_count(7, 1).iter().sum::<u64>(), 7);
    }
}
