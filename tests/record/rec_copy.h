/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rec_copy.h - a record rebuilt field by field with a choice of key form, for
 * the record tests and fuzz_rec_json: the same entries must give the same
 * JSON whether their keys were added by name or by interned handle.
 */
#ifndef NETSCOPE_TESTS_REC_COPY_H
#define NETSCOPE_TESTS_REC_COPY_H

#include "ns_rec.h"

enum rec_copy_keys {
    REC_COPY_NAMES,    /* every key by name                     */
    REC_COPY_INTERNED, /* every key by handle                   */
    REC_COPY_MIXED,    /* even fields by handle, odd ones by name */
};

/* r again, field by field, with its time and sequence. A key without a handle
 * ("" or over-long) is added by name. NULL when a record cannot be made or a
 * field cannot be read. */
static inline struct ns_record *rec_copy(const struct ns_record *r, enum rec_copy_keys mode)
{
    struct ns_record *c = ns_rec_new(ns_rec_type(r), ns_rec_time(r));
    if (!c)
        return NULL;
    ns_rec_set_seq(c, ns_rec_seq(r));
    for (size_t i = 0; i < ns_rec_field_count(r); i++) {
        struct ns_field_view v;
        if (!ns_rec_field_at(r, i, &v)) {
            ns_rec_release(c);
            return NULL;
        }
        bool by_id = v.key && mode != REC_COPY_NAMES && (mode != REC_COPY_MIXED || i % 2 == 0);
        uint32_t k = by_id ? ns_rec_key(v.key) : 0;
        by_id = by_id && k;
        switch (v.type) {
        case NS_F_BOOL:
            by_id ? ns_rec_add_bool_k(c, k, v.v.b) : ns_rec_add_bool(c, v.key, v.v.b);
            break;
        case NS_F_INT:
            by_id ? ns_rec_add_int_k(c, k, v.v.i) : ns_rec_add_int(c, v.key, v.v.i);
            break;
        case NS_F_UINT:
            by_id ? ns_rec_add_uint_k(c, k, v.v.u) : ns_rec_add_uint(c, v.key, v.v.u);
            break;
        case NS_F_DOUBLE:
            by_id ? ns_rec_add_double_k(c, k, v.v.d) : ns_rec_add_double(c, v.key, v.v.d);
            break;
        case NS_F_STR:
            by_id ? ns_rec_add_str_k(c, k, v.v.s.ptr, v.v.s.len)
                  : ns_rec_add_str(c, v.key, v.v.s.ptr, v.v.s.len);
            break;
        case NS_F_IP:
            by_id ? ns_rec_add_ip_k(c, k, &v.v.ip) : ns_rec_add_ip(c, v.key, &v.v.ip);
            break;
        case NS_F_MAC:
            by_id ? ns_rec_add_mac_k(c, k, v.v.mac) : ns_rec_add_mac(c, v.key, v.v.mac);
            break;
        case NS_F_TIME:
            by_id ? ns_rec_add_time_k(c, k, v.v.u) : ns_rec_add_time(c, v.key, v.v.u);
            break;
        case NS_F_ARRAY:
            by_id ? ns_rec_begin_array_k(c, k) : ns_rec_begin_array(c, v.key);
            break;
        case NS_F_OBJECT:
            by_id ? ns_rec_begin_object_k(c, k) : ns_rec_begin_object(c, v.key);
            break;
        case NS_F_END:
            ns_rec_end(c);
            break;
        default:
            break;
        }
    }
    return c;
}

#endif
