// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * ns_test_drop.bpf.c - test helper, not part of NetScope: drops a random share
 * of large IPv4/IPv6 packets at TC (netem is not available on the CI kernel).
 *
 * tests/ebpf loads it on the receiver's veth ingress with
 *   tc filter add dev IF ingress bpf direct-action obj ns_test_drop.bpf.o sec tc
 * so TCP sees path loss and retransmits. Small packets (handshake, ACKs, FIN)
 * pass, which keeps the test's run time independent of SYN timeouts.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define NS_TC_ACT_OK 0
#define NS_TC_ACT_SHOT 2

SEC("tc")
int ns_test_drop(struct __sk_buff *skb)
{
    /* About 2 % of the skbs longer than 256 bytes. */
    if (skb->len > 256 && bpf_get_prandom_u32() % 1000 < 20)
        return NS_TC_ACT_SHOT;
    return NS_TC_ACT_OK;
}
