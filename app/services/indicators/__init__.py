"""Monthly indicators computed on the device from the read models, and their exports
(docs/reports/indicators.md)."""
