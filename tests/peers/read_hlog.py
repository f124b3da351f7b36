"""Read a latency.hlog with the HdrHistogram Python package (module hdrh), merge every
interval and print what wsload's test compares: interval count, total count, and the
p50, p90, p99 and max of the merged histogram, in the log's unit (nanoseconds).

Usage: python3 read_hlog.py latency.hlog
"""
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

# The same bounds and precision as wsload's histograms (1 ns .. 1 h, 3 significant digits).
reference = HdrHistogram(1, 3_600_000_000_000, 3)
reader = HistogramLogReader(sys.argv[1], reference)
merged = HdrHistogram(1, 3_600_000_000_000, 3)
intervals = 0
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    intervals += 1
    merged.add(h)
reader.close()
print(f"intervals {intervals}")
print(f"count {merged.get_total_count()}")
for q in (50, 90, 99):
    print(f"p{q} {merged.get_value_at_percentile(q)}")
print(f"max {merged.get_max_value()}")
