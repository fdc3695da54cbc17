/* See shim.h: DPDK's inline functions and version-dependent layouts behind plain functions. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* on_exit, program_invocation_short_name */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_config.h>
#include <rte_version.h>
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#ifdef VFLAG_HAVE_BOND
#include <rte_eth_bond.h>
#include <rte_eth_bond_8023ad.h>
#endif
#include <rte_prefetch.h>

#include "shim.h"

const uint64_t vflag_RSS_HF_IP_UDP_TCP = RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP;
const uint64_t vflag_TX_OFFLOAD_MBUF_FAST_FREE = RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
const uint32_t vflag_DEV_FLAG_INTR_LSC = RTE_ETH_DEV_INTR_LSC;
const uint16_t vflag_MBUF_DEFAULT_BUF_SIZE = RTE_MBUF_DEFAULT_BUF_SIZE;
const uint16_t vflag_PKTMBUF_HEADROOM = RTE_PKTMBUF_HEADROOM;
const uint64_t vflag_MBUF_F_RX_RSS_HASH = RTE_MBUF_F_RX_RSS_HASH;
const uint64_t vflag_RX_OFFLOAD_SCATTER = RTE_ETH_RX_OFFLOAD_SCATTER;

int vflag_errno(void) { return rte_errno; }

/*
 * From 25.11 the EAL parses its arguments with lib argparse, which calls exit() on one it
 * rejects instead of returning -EINVAL (the exit status is then 256 - EINVAL). While
 * rte_eal_init runs, an exit handler turns such an exit into the caller's usual one: a line
 * naming the failed call and exit status 1. A zero status (the EAL's --help) passes through.
 */
static volatile int eal_init_running;

#ifdef __GLIBC__
static void eal_exit_guard(int status, void *arg)
{
	(void)arg;
	if (!eal_init_running || status == 0)
		return;
	fprintf(stderr, "%s: error: rte_eal_init failed: an EAL argument was rejected "
		"(see DPDK's message above; the EAL exited with status %d)\n",
		program_invocation_short_name, status & 0xff);
	fflush(NULL);
	_exit(1);
}
#endif

int vflag_eal_init(int argc, char **argv)
{
	int ret;

#ifdef __GLIBC__
	static int guarded;

	if (!guarded && on_exit(eal_exit_guard, NULL) == 0)
		guarded = 1;
#endif
	eal_init_running = 1;
	ret = rte_eal_init(argc, argv);
	eal_init_running = 0;
	return ret;
}

unsigned vflag_lcore_id(void) { return rte_lcore_id(); }

uint64_t vflag_tsc(void) { return rte_rdtsc(); }

uint16_t vflag_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t vflag_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

int vflag_mbuf_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **pkts, unsigned n)
{
	return rte_pktmbuf_alloc_bulk(pool, pkts, n);
}

void vflag_mbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }

/*
 * rte_pktmbuf_free_bulk, inlined here: the library's version sits in librte_mbuf.so, whose
 * mempool-cache lookups pay __tls_get_addr for the lcore id on every put. Compiled into the
 * executable (initial-exec TLS, see build.rs) the same work is cheaper. Consecutive mbufs of one
 * pool go back in one rte_mempool_put_bulk.
 */
void vflag_mbufs_free(struct rte_mbuf **pkts, unsigned n)
{
	void *batch[64];
	struct rte_mempool *pool = NULL;
	unsigned nb = 0;

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		while (m != NULL) {
			struct rte_mbuf *next = m->next;

			m = rte_pktmbuf_prefree_seg(m);
			if (likely(m != NULL)) {
				if (unlikely(m->pool != pool || nb == RTE_DIM(batch))) {
					if (nb != 0)
						rte_mempool_put_bulk(pool, batch, nb);
					pool = m->pool;
					nb = 0;
				}
				batch[nb++] = m;
			}
			m = next;
		}
	}
	if (nb != 0)
		rte_mempool_put_bulk(pool, batch, nb);
}

void vflag_mbufs_data(struct rte_mbuf **pkts, uint16_t n, uint8_t **data, uint16_t *len)
{
	for (uint16_t i = 0; i < n; i++) {
		data[i] = rte_pktmbuf_mtod(pkts[i], uint8_t *);
		len[i] = pkts[i]->data_len;
		/* The caller reads the headers next: start every line's load now, in parallel. */
		rte_prefetch0(data[i]);
	}
}

int vflag_mbufs_set_len(struct rte_mbuf **pkts, uint16_t n, uint16_t len, uint8_t **data)
{
	for (uint16_t i = 0; i < n; i++)
		if (unlikely(rte_pktmbuf_tailroom(pkts[i]) + pkts[i]->data_len < len))
			return 0;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		m->data_len = len;
		m->pkt_len = len;
		data[i] = rte_pktmbuf_mtod(m, uint8_t *);
	}
	return 1;
}

void vflag_mbuf_info(const struct rte_mbuf *m, struct vflag_mbuf_info *info)
{
	info->ol_flags = m->ol_flags;
	info->pkt_len = m->pkt_len;
	info->rss_hash = m->hash.rss;
	info->packet_type = m->packet_type;
	info->data_len = m->data_len;
	info->nb_segs = m->nb_segs;
}

uint32_t vflag_mbuf_gather(const struct rte_mbuf *m, uint8_t *buf, uint32_t len)
{
	uint32_t want = RTE_MIN(len, m->pkt_len);
	uint32_t got = 0;

	for (const struct rte_mbuf *seg = m; seg != NULL && got < want; seg = seg->next) {
		uint32_t n = RTE_MIN((uint32_t)seg->data_len, want - got);

		memcpy(buf + got, rte_pktmbuf_mtod(seg, const uint8_t *), n);
		got += n;
	}
	return got;
}

int vflag_mbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail)
{
	return rte_pktmbuf_chain(head, tail);
}

int vflag_link_get(uint16_t port, int wait, struct vflag_link *out)
{
	struct rte_eth_link link;
	int ret;

	memset(&link, 0, sizeof(link));
	ret = wait ? rte_eth_link_get(port, &link) : rte_eth_link_get_nowait(port, &link);
	if (ret != 0)
		return ret;
	out->speed_mbps = link.link_speed;
	out->up = link.link_status == RTE_ETH_LINK_UP;
	out->full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	out->autoneg = link.link_autoneg == RTE_ETH_LINK_AUTONEG;
	return 0;
}

int vflag_port_configure(uint16_t port, const struct vflag_port_conf *c)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	if (c->rss_hf != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = c->rss_hf;
	}
	conf.txmode.offloads = c->tx_offloads;
	conf.rxmode.offloads = c->rx_offloads;
	conf.rxmode.mtu = c->mtu;
	conf.intr_conf.lsc = c->lsc_intr ? 1 : 0;
	return rte_eth_dev_configure(port, c->nb_rxq, c->nb_txq, &conf);
}

int vflag_port_names(uint16_t port, char *name, unsigned name_len, char *driver, unsigned driver_len)
{
	struct rte_eth_dev_info info;
	char buf[RTE_ETH_NAME_MAX_LEN];
	int ret;

	ret = rte_eth_dev_get_name_by_port(port, buf);
	if (ret != 0)
		return ret;
	snprintf(name, name_len, "%s", buf);
	ret = rte_eth_dev_info_get(port, &info);
	if (ret != 0)
		return ret;
	snprintf(driver, driver_len, "%s", info.driver_name ? info.driver_name : "");
	return 0;
}

uint32_t vflag_port_dev_flags(uint16_t port)
{
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(port, &info) != 0 || info.dev_flags == NULL)
		return 0;
	return *info.dev_flags;
}

int vflag_bond_member_set(uint16_t bond, uint16_t member, int present)
{
#ifndef VFLAG_HAVE_BOND
	(void)bond;
	(void)member;
	(void)present;
	return -ENOTSUP;
#elif RTE_VERSION >= RTE_VERSION_NUM(23, 11, 0, 0)
	/* 23.11 still marks the member calls experimental (stable from 24.11). Allowed here alone:
	 * ALLOW_EXPERIMENTAL_API would let any other experimental call through unnoticed. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	return present ? rte_eth_bond_member_add(bond, member) : rte_eth_bond_member_remove(bond, member);
#pragma GCC diagnostic pop
#else
	return present ? rte_eth_bond_slave_add(bond, member) : rte_eth_bond_slave_remove(bond, member);
#endif
}

int vflag_bond_lacp_timers(uint16_t bond, uint32_t periodic_ms, uint32_t timeout_ms)
{
#ifndef VFLAG_HAVE_BOND
	(void)bond;
	(void)periodic_ms;
	(void)timeout_ms;
	return -ENOTSUP;
#else
	struct rte_eth_bond_8023ad_conf conf;
	int ret = rte_eth_bond_8023ad_conf_get(bond, &conf);

	if (ret != 0)
		return ret;
	if (periodic_ms < 2 || timeout_ms <= periodic_ms)
		return -EINVAL;
	/* The setup checks fast < slow periodic and short < long timeout. */
	conf.slow_periodic_ms = periodic_ms;
	if (conf.fast_periodic_ms >= periodic_ms)
		conf.fast_periodic_ms = periodic_ms - 1;
	conf.long_timeout_ms = timeout_ms;
	if (conf.short_timeout_ms >= timeout_ms)
		conf.short_timeout_ms = timeout_ms - 1;
	return rte_eth_bond_8023ad_setup(bond, &conf);
#endif
}
