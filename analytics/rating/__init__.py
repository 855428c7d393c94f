"""The rating engine: what a call is (classification, numbering), who it belongs to (directory), what it costs.

The pipeline a parsed call goes through, module by module::

    parsed calls ─ classify ─▶ directory ─▶ pricing ─▶ rated calls
                  (numbering)               (tariffs → index → inputs → engine → output; clock)

* :mod:`~analytics.rating.stage` — ``RatingStage.rate_batch``: the one entry point the collector,
  ``callcost import``, ``rerate`` and the what-if call;
* :mod:`~analytics.rating.classify`, :mod:`~analytics.rating.numbering` — call type, direction, E.164;
* :mod:`~analytics.rating.directory` — user, department, cost centre in force on the call's day;
* :mod:`~analytics.rating.pricing` — which tariff, from which site, actual and reference side;
* :mod:`~analytics.rating.tariffs` (the CSV), :mod:`~analytics.rating.index` (prefix/validity lookup),
  :mod:`~analytics.rating.inputs`, :mod:`~analytics.rating.clock` (local time, bands, holidays),
  :mod:`~analytics.rating.engine` (the arithmetic), :mod:`~analytics.rating.output` (the columns);
* :mod:`~analytics.rating.chains` — call chains: the legs of one conversation linked, each carrier call
  priced once and shared among its legs; :mod:`~analytics.rating.chains_store` joins legs that arrive
  later to the stored legs of their chain;
* :mod:`~analytics.rating.explain` — the same arithmetic told step by step, for ``callcost explain``.

This sub-package imports :mod:`warehouse` only (an import-linter contract): the collector depends on it
and on nothing else of ``analytics``.
"""
