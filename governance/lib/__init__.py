"""Pure helpers that know nothing of our apps: URL converters, byte sniffing, chart geometry."""
