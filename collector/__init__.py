"""Receiving CDRs: PBX connectors (one module per vendor format), sources and the import pipeline.

Imports flow one way: collector → warehouse.
"""
