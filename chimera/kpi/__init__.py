"""KPI evaluation (EVALUATE_KPIS): formulas over base metrics, thresholds, anomalies, statuses."""
