"""dns_mirror: mirror an on-premises DNS zone into a Route 53 private hosted zone.

Modules: config (the event), master (SOA query and AXFR), records (the two record formats),
plan (diff and batches), route53 (the hosted zone), sync (one run, its result).
"""
