"""Sends SCTP INIT chunks as raw IP packets (for kernels without SCTP sockets): the node's
conntrack then shows where each association was DNATed and masqueraded.

Usage: sctp_init.py SOURCE DESTINATION PORT FIRST_SOURCE_PORT COUNT
"""
import socket
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def main():
    source, destination = sys.argv[1], sys.argv[2]
    port, first, count = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    family = socket.AF_INET6 if ":" in destination else socket.AF_INET
    with socket.socket(family, socket.SOCK_RAW, 132) as s:
        s.bind((source, 0))
        for k in range(count):
            # INIT: type 1, length 20, initiate tag, a_rwnd, outbound/inbound streams, TSN.
            chunk = struct.pack("!BBHIIHHI", 1, 0, 20, 0x5C5C0000 + k + 1, 65535, 1, 1, 1)
            header = struct.pack("!HHII", first + k, port, 0, 0)
            checksum = crc32c(header + chunk)
            s.sendto(header[:8] + struct.pack("<I", checksum) + chunk, (destination, 0))
    print("sent", flush=True)


main()
