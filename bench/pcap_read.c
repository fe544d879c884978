/* Baseline for bench/run.sh: the cost of just reading a capture with libpcap.
 * Loops pcap_next_ex over the file and prints "packets bytes" (captured bytes) of one
 * pass. With a REPEAT argument it reads the file that many times (so a small file takes
 * long enough to time); the caller divides the time by REPEAT. */
#include <stdlib.h>
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long packets = 0, bytes = 0, sum = 0;
    pcap_t *p;
    int rc, pass, repeat = 1;

    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s FILE.pcap [REPEAT]\n", argv[0]);
        return 2;
    }
    if (argc == 3) repeat = atoi(argv[2]);
    if (repeat < 1) repeat = 1;
    for (pass = 0; pass < repeat; pass++) {
        packets = bytes = 0;
        p = pcap_open_offline(argv[1], err);
        if (!p) {
            fprintf(stderr, "pcap_open_offline: %s\n", err);
            return 1;
        }
        while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
            packets++;
            bytes += h->caplen;
            /* Touch the first byte so the read cannot be optimised away. */
            if (h->caplen) sum += data[0];
        }
        if (rc == -1) {
            fprintf(stderr, "pcap_next_ex: %s\n", pcap_geterr(p));
            pcap_close(p);
            return 1;
        }
        pcap_close(p);
    }
    printf("%llu %llu\n", packets, bytes);
    fprintf(stderr, "checksum-ish %llu\n", sum);
    return 0;
}
