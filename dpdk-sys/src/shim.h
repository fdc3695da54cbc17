/*
 * vflag's C shim: DPDK's `static inline` functions and macros (rx/tx burst, mbuf data pointers,
 * lcore id, TSC, rte_errno) cannot be bound by bindgen, and some structs change layout between
 * releases (rte_mbuf, rte_eth_link). The shim exports them as plain functions over
 * release-independent types. Hot-path functions take whole bursts, so the call cost is paid
 * once per burst, not per packet.
 */
#ifndef VFLAG_SHIM_H
#define VFLAG_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mbuf.h>

struct rte_mempool;

/* Constants that DPDK defines with function-like macros (RTE_BIT64), which bindgen skips. */
extern const uint64_t vflag_RSS_HF_IP_UDP_TCP;
extern const uint64_t vflag_TX_OFFLOAD_MBUF_FAST_FREE;
extern const uint32_t vflag_DEV_FLAG_INTR_LSC;
extern const uint16_t vflag_MBUF_DEFAULT_BUF_SIZE;
extern const uint16_t vflag_PKTMBUF_HEADROOM;
extern const uint64_t vflag_MBUF_F_RX_RSS_HASH;
extern const uint64_t vflag_RX_OFFLOAD_SCATTER;

struct vflag_link {
	uint32_t speed_mbps;
	uint8_t up;
	uint8_t full_duplex;
	uint8_t autoneg;
};

/* What --verbose prints about one received mbuf. */
struct vflag_mbuf_info {
	uint64_t ol_flags;
	uint32_t pkt_len;
	uint32_t rss_hash;
	uint32_t packet_type;
	uint16_t data_len;
	uint16_t nb_segs;
};

struct vflag_port_conf {
	uint16_t nb_rxq;
	uint16_t nb_txq;
	uint64_t rss_hf;      /* 0: no RSS */
	uint64_t tx_offloads;
	uint64_t rx_offloads;
	uint16_t mtu;         /* 0: the device's default */
	uint8_t lsc_intr;     /* link-state-change interrupts (only if the device supports them) */
};

int vflag_errno(void);
/* rte_eal_init, but an EAL that exits on a rejected argument (25.11) makes the process print
 * "<program>: error: rte_eal_init failed: ..." and exit 1, as a failed init returning would. */
int vflag_eal_init(int argc, char **argv);
unsigned vflag_lcore_id(void);
uint64_t vflag_tsc(void);

uint16_t vflag_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t vflag_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
int vflag_mbuf_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **pkts, unsigned n);
void vflag_mbuf_free(struct rte_mbuf *m);
/* Frees a burst (every segment), returning mbufs to their pools in bulk. */
void vflag_mbufs_free(struct rte_mbuf **pkts, unsigned n);

/* Data pointer and data length of each mbuf of a burst (first segment). */
void vflag_mbufs_data(struct rte_mbuf **pkts, uint16_t n, uint8_t **data, uint16_t *len);

/* Where an mbuf keeps its buffer address, data offset and first-segment length in this DPDK
 * version. Enum constants, so bindgen makes them Rust constants: the receive path finds each
 * frame's data inline, without a call per burst and without spending registers on offsets. */
enum vflag_mbuf_offset {
	VFLAG_MBUF_BUF_ADDR = offsetof(struct rte_mbuf, buf_addr),
	VFLAG_MBUF_DATA_OFF = offsetof(struct rte_mbuf, data_off),
	VFLAG_MBUF_DATA_LEN = offsetof(struct rte_mbuf, data_len),
	/* The whole frame's length, over all its segments (a u32). */
	VFLAG_MBUF_PKT_LEN = offsetof(struct rte_mbuf, pkt_len),
	/* Where a received frame usually starts, from the mbuf itself: a direct mbuf of a pool
	 * without a private area, with the default headroom (what the receive prefetch assumes). */
	VFLAG_MBUF_USUAL_DATA = sizeof(struct rte_mbuf) + RTE_PKTMBUF_HEADROOM,
};
/* Gives each freshly allocated mbuf a single segment of `len` bytes and returns the data
 * pointers; returns 0 (changing nothing) if `len` does not fit in every mbuf's data room. */
int vflag_mbufs_set_len(struct rte_mbuf **pkts, uint16_t n, uint16_t len, uint8_t **data);
void vflag_mbuf_info(const struct rte_mbuf *m, struct vflag_mbuf_info *info);
/* Copies the first bytes of a frame, across its segments, into buf: at most len, and never past
 * the frame's pkt_len or the last segment. Returns how many were copied. Off the hot path: for
 * a frame whose headers do not all sit in its first segment. */
uint32_t vflag_mbuf_gather(const struct rte_mbuf *m, uint8_t *buf, uint32_t len);
/* Appends tail's segments to head's frame (rte_pktmbuf_chain); 0, or -EOVERFLOW when the chain
 * would have too many segments (then nothing changes). */
int vflag_mbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);

int vflag_link_get(uint16_t port, int wait, struct vflag_link *link);
int vflag_port_configure(uint16_t port, const struct vflag_port_conf *conf);
/* The device's own name (e.g. 0000:01:00.2 or net_null0) and its driver. */
int vflag_port_names(uint16_t port, char *name, unsigned name_len, char *driver, unsigned driver_len);
uint32_t vflag_port_dev_flags(uint16_t port);
/* Adds (present != 0) or removes a member of a net_bonding port (22.11 "slave", 23.11+
 * "member" API); -ENOTSUP when DPDK was built without the bonding driver. */
int vflag_bond_member_set(uint16_t bond, uint16_t member, int present);
/* An 802.3ad net_bonding port sends a LACPDU every periodic_ms and gives up on a partner
 * silent for timeout_ms (DPDK's actor never asks for the short timeout, so these are its
 * "slow" periodic and "long" timeout); -ENOTSUP without the bonding driver. */
int vflag_bond_lacp_timers(uint16_t bond, uint32_t periodic_ms, uint32_t timeout_ms);

#endif
