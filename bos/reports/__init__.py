"""PDF reports (WeasyPrint): process dossiers, buyer profiles and watchdog reports, kept in a verifiable archive."""
