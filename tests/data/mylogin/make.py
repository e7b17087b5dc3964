# Writes mylogin.cnf the way mysql_config_editor does (mysys/my_default.cc, my_aes_openssl.cc):
# 4 unused bytes, a 20-byte key XOR-folded into the AES-128 key, then per line a 4-byte
# little-endian length and the line encrypted with AES-128-ECB, PKCS#7 padding.
# Uses Python's `cryptography` package: an implementation independent of conncheck's.
import struct, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import padding

key = bytes(range(0x41, 0x41 + 20))
rkey = bytearray(16)
for i, b in enumerate(key):
    rkey[i % 16] ^= b
lines = ['[client]', 'user = "localuser"', 'password = "p@ss word"', '[remote]', 'host = "db1.example.com"', 'port = 3307']
out = bytearray(b'\0\0\0\0') + key
for line in lines:
    p = padding.PKCS7(128).padder()
    data = p.update((line + '\n').encode()) + p.finalize()
    e = Cipher(algorithms.AES(bytes(rkey)), modes.ECB()).encryptor()
    ct = e.update(data) + e.finalize()
    out += struct.pack('<I', len(ct)) + ct
open(sys.argv[1], 'wb').write(out)
