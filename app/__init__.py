"""carewatch: provider quality monitoring for adult social care commissioning teams."""
