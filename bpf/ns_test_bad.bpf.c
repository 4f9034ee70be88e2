// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * ns_test_bad.bpf.c - test helper, not part of NetScope: a program the kernel's
 * verifier must refuse (a hash map value used without the NULL check).
 *
 * tests/ebpf/test_bpf_user.c loads it through bpf/ns_bpf_user.c to check that
 * a verifier rejection gives one error line naming the verifier and the
 * verifier log at debug level. It is never attached.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} ns_test_bad_map SEC(".maps");

SEC("tc")
int ns_test_bad(struct __sk_buff *skb)
{
    __u32 k = 0;
    __u64 *v = bpf_map_lookup_elem(&ns_test_bad_map, &k);
    *v += skb->len; /* no NULL check: "invalid mem access 'map_value_or_null'" */
    return 0;
}
