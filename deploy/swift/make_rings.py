#!/usr/bin/python3
"""Build single-device Swift rings (account, container, object) in one go.

Usage (run with the Debian python, which has the ``swift`` module):

    /usr/bin/python3 make_rings.py OUT_DIR ACCOUNT_PORT CONTAINER_PORT \
        OBJECT_PORT [DEVICE]

Writes OUT_DIR/{account,container,object}.ring.gz, each with one replica and
one device (127.0.0.1:<port>/<DEVICE>, DEVICE defaults to "d1").  This uses
Swift's RingBuilder API directly, which is much faster than running
swift-ring-builder create/add/rebalance three times per ring.
"""

import os
import sys

# A small partition power keeps building and loading the rings fast; with a
# single device and one replica the number of partitions only changes how
# many hash directories the object server may create.
PART_POWER = 6
REPLICAS = 1
MIN_PART_HOURS = 1


def main(argv):
    if len(argv) not in (5, 6):
        sys.stderr.write(
            'usage: make_rings.py OUT_DIR ACCOUNT_PORT CONTAINER_PORT '
            'OBJECT_PORT [DEVICE]\n')
        return 2
    out_dir = argv[1]
    ports = {'account': int(argv[2]), 'container': int(argv[3]),
             'object': int(argv[4])}
    device = argv[5] if len(argv) == 6 else 'd1'

    from swift.common.ring import RingBuilder

    os.makedirs(out_dir, exist_ok=True)
    for name, port in ports.items():
        builder = RingBuilder(PART_POWER, REPLICAS, MIN_PART_HOURS)
        builder.add_dev({'id': 0, 'region': 1, 'zone': 1,
                         'ip': '127.0.0.1', 'port': port,
                         'replication_ip': '127.0.0.1',
                         'replication_port': port,
                         'device': device, 'weight': 1.0, 'meta': ''})
        builder.rebalance(seed=1)
        final = os.path.join(out_dir, '%s.ring.gz' % name)
        tmp = final + '.tmp'
        builder.get_ring().save(tmp)
        os.replace(tmp, final)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
