"""Service-continuity indicators of the Prestation secondaire (AF-IMG-DB-Va2 §3.3, §5.3, §5.4).

``availability``: the unavailability journal, D_t / D_f in business hours, PERF;
``kt``: K and T from run folders; ``tables``: the AF price tables as printed;
``command``: ``drimva indicators``.
"""
