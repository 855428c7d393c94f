"""Remote unit: a collector beside a PBX that forwards its batches to the central collector over HTTPS.

The unit runs the ordinary transports, raw dump and parse stage for its own ``[[pbx]]`` sources; instead
of storing, each batch goes durably into a local *outbox* (:mod:`collector.remote.outbox`) and a
forwarder (:mod:`collector.remote.forwarder`) posts it to the centre, whose ``https:`` transport
(:mod:`collector.transports.https`) rates and stores it idempotently.  Wire format: :mod:`collector.wire`.
"""
