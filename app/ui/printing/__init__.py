"""Printing a `Printout` (app/services/printouts): to a PDF file or through the print dialog."""
