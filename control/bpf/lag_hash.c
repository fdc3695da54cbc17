// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated lab's hardware LAG, transmit side (vflag-ctl lab up --vf): attached at the
 * representor's tc ingress (what the VF sends), it hashes each frame into one of BUCKETS
 * buckets and redirects it to the egress of the host link that bucket maps to, as the mlx5
 * port selection flow table does in hash mode. Built by vflag-ctl with
 *   clang -O2 -target bpf -c lag_hash.c -DLINK0_IFINDEX=N -DLINK1_IFINDEX=M -DLIVE=L
 * once per set of live links (L: 3 both, 1 link 0 only, 2 link 1 only); a carrier change
 * replaces the filter with the object of the new set.
 *
 * The hash: IPv4 UDP/TCP (no fragment) its 5-tuple; other IPv4 its addresses; anything else
 * the two MAC addresses.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef LINK0_IFINDEX
#error "LINK0_IFINDEX is set by vflag-ctl"
#endif
#ifndef LINK1_IFINDEX
#error "LINK1_IFINDEX is set by vflag-ctl"
#endif
#ifndef LIVE
#define LIVE 3
#endif
#define BUCKETS 16

static __always_inline __u32 mix(__u32 h, __u32 v)
{
	h ^= v;
	h *= 0x9e3779b1u;
	return h ^ (h >> 15);
}

SEC("tc")
int lag_hash(struct __sk_buff *skb)
{
	/* Read with bpf_skb_load_bytes: an AF_PACKET transmit (the VF's vflag-dp) leaves only
	 * the Ethernet header in the linear part. */
	struct ethhdr eth;
	struct iphdr ip;
	__u32 h = 0x12345678u;
	__u32 ports;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return TC_ACT_SHOT;
	if (eth.h_proto == bpf_htons(ETH_P_IP) &&
	    bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip)) == 0) {
		h = mix(h, ip.saddr);
		h = mix(h, ip.daddr);
		if ((ip.protocol == IPPROTO_UDP || ip.protocol == IPPROTO_TCP) &&
		    !(ip.frag_off & bpf_htons(0x3fff)) && ip.ihl >= 5 &&
		    bpf_skb_load_bytes(skb, sizeof(eth) + ip.ihl * 4, &ports, sizeof(ports)) == 0) {
			h = mix(h, ip.protocol);
			h = mix(h, ports);
		}
	} else {
		__u32 a = 0, b = 0;

		__builtin_memcpy(&a, eth.h_dest, 4);
		__builtin_memcpy(&b, eth.h_source, 4);
		h = mix(h, a);
		h = mix(h, b);
		h = mix(h, ((__u32)eth.h_dest[4] << 24) | ((__u32)eth.h_dest[5] << 16) |
			   ((__u32)eth.h_source[4] << 8) | eth.h_source[5]);
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	/* Native mapping: even buckets to link 0, odd to link 1; a dead link's buckets go to
	 * the live one (both dead: native, as mlx5_infer_tx_affinity_mapping keeps it). */
	__u32 port = (h % BUCKETS) & 1;
	if (LIVE == 1)
		port = 0;
	else if (LIVE == 2)
		port = 1;
	return bpf_redirect(port ? LINK1_IFINDEX : LINK0_IFINDEX, 0);
}

char _license[] SEC("license") = "GPL";
