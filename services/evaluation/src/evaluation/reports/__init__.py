"""A round's report: one `ReportData` built from the scored snapshot, rendered as HTML (with inline
SVG charts), .docx and .xlsx, so the three always say the same thing."""
