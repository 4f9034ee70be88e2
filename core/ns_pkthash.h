/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ns_pkthash.h - the symmetric flow hash used to shard packets across workers.
 *
 * Called by source threads for every packet, so it only walks to the addresses
 * and ports; the real decoding happens in decoder/flow on the worker.
 */
#ifndef NS_PKTHASH_H
#define NS_PKTHASH_H

#include <stdint.h>

/*
 * A hash equal for both directions of a flow: addresses and ports are combined
 * order-independently. IP fragments hash on addresses and protocol only (later
 * fragments carry no ports), so a fragmented datagram stays on one worker.
 * Unparseable packets hash to 0. Any thread.
 */
uint32_t ns_pkt_hash(uint16_t linktype, const uint8_t *p, uint32_t caplen);

#endif
