/* SPDX-License-Identifier: Apache-2.0 */
/*
 * community_id.h - Community ID v1 flow hash (github.com/corelight/community-id-spec).
 *
 * Pure code (its own one-block SHA-1). Called by decoder/flow when
 * it builds a flow record (worker thread) and by the unit tests; thread-safe.
 */
#ifndef NS_COMMUNITY_ID_H
#define NS_COMMUNITY_ID_H

#include <stdbool.h>
#include <stdint.h>

#define COMMUNITY_ID_LEN 32 /* "1:" + 28 base64 characters + NUL, rounded up */

/*
 * Map an ICMP (proto 1) or ICMPv6 (proto 58) type/code onto the "ports" the
 * spec hashes: a request/reply pair type becomes (type, paired type) so both
 * directions hash alike; anything else is (type, code) and one-way (*one_way
 * true: the tuple is not reordered).
 */
void community_id_icmp_ports(uint8_t proto, uint8_t type, uint8_t code, uint16_t *sport,
                             uint16_t *dport, bool *one_way);

/*
 * Compute the v1 ID of a packet or flow seen from saddr:sport to daddr:dport
 * (family 4: 4-byte addresses, 6: 16-byte). For ICMP/ICMPv6 pass type and code
 * as sport and dport; for protocols other than TCP, UDP, SCTP, ICMP and ICMPv6
 * the ports are ignored. Writes a NUL-terminated "1:..." string into out and
 * returns 0, or -1 on a bad family (out is then "").
 */
int community_id_v1(uint16_t seed, uint8_t family, const uint8_t *saddr, const uint8_t *daddr,
                    uint8_t proto, uint16_t sport, uint16_t dport, char out[COMMUNITY_ID_LEN]);

#endif
