"""Chimera (Profit OS): the deterministic core.

Everything a user sees as a number comes from here: config loading, the data layer, ingest,
KPI evaluation, play triggers and ranking, planning, the job queue and evidence. Nothing in this
package imports ``graphs``, ``agents`` or ``app``.
"""

__version__ = "0.1.0"
