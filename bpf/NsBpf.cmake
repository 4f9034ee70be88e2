# SPDX-License-Identifier: Apache-2.0
#
# NsBpf.cmake - can this build make CO-RE eBPF objects? Included by bpf/CMakeLists.txt and by
# the CMakeLists.txt of every eBPF plugin and of tests/ebpf (plugins/ is configured before bpf/).
# The checks run once; later includes read the same answer from global properties, so every
# directory agrees.
#
# Sets NS_BPF_OK (TRUE/FALSE) and, when FALSE, NS_BPF_WHY (the reason, printed once). Needs:
# clang (a BPF target), bpftool (vmlinux.h and skeletons), the kernel's BTF at
# NS_BPF_BTF (default /sys/kernel/btf/vmlinux) and libbpf (pkg-config, imported target
# PkgConfig::LIBBPF, global). -DNS_BPF=OFF skips the eBPF plugins on purpose.
get_property(ns_bpf_done GLOBAL PROPERTY NS_BPF_DONE)
if(ns_bpf_done)
  foreach(v NS_BPF_OK NS_BPF_WHY NS_BPF_ARCH NS_BPF_GEN_DIR NS_BPF_CLANG NS_BPF_BPFTOOL)
    get_property(${v} GLOBAL PROPERTY ${v})
  endforeach()
  return()
endif()

option(NS_BPF "Build the eBPF sources (needs clang, bpftool, kernel BTF, libbpf)" ON)
set(NS_BPF_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "Kernel BTF that vmlinux.h is generated from")
find_program(NS_BPF_CLANG NAMES clang clang-16 clang-15 clang-14 clang-13)
find_program(NS_BPF_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
pkg_check_modules(LIBBPF IMPORTED_TARGET GLOBAL libbpf)

set(NS_BPF_OK FALSE)
set(NS_BPF_WHY "")
if(NOT NS_BPF)
  set(NS_BPF_WHY "disabled with -DNS_BPF=OFF")
elseif(NOT NS_BPF_CLANG)
  set(NS_BPF_WHY "clang not found (Debian: apt-get install clang llvm)")
elseif(NOT NS_BPF_BPFTOOL)
  set(NS_BPF_WHY "bpftool not found (Debian: apt-get install bpftool)")
elseif(NOT EXISTS ${NS_BPF_BTF})
  set(NS_BPF_WHY "no kernel BTF at ${NS_BPF_BTF} (kernel built without CONFIG_DEBUG_INFO_BTF)")
elseif(NOT LIBBPF_FOUND)
  set(NS_BPF_WHY "libbpf not found by pkg-config (Debian: apt-get install libbpf-dev)")
else()
  set(NS_BPF_OK TRUE)
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64|AMD64")
  set(NS_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(NS_BPF_ARCH arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "ppc64")
  set(NS_BPF_ARCH powerpc)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "s390")
  set(NS_BPF_ARCH s390)
else()
  set(NS_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# Where the skeletons land; plugins add it to their include path and depend on ns_bpf_skeletons.
set(NS_BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)

set_property(GLOBAL PROPERTY NS_BPF_DONE TRUE)
foreach(v NS_BPF_OK NS_BPF_WHY NS_BPF_ARCH NS_BPF_GEN_DIR NS_BPF_CLANG NS_BPF_BPFTOOL)
  set_property(GLOBAL PROPERTY ${v} "${${v}}")
endforeach()
if(NS_BPF_OK)
  message(STATUS "eBPF sources: clang ${NS_BPF_CLANG}, bpftool ${NS_BPF_BPFTOOL}, BTF ${NS_BPF_BTF}, "
                 "libbpf ${LIBBPF_VERSION}")
else()
  message(WARNING "eBPF sources (source/ebpf_tcp, source/ebpf_flow) are skipped: ${NS_BPF_WHY}. "
                  "Everything else builds.")
endif()
