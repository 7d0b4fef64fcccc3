"""acemux as a TV tuner: channel numbers, HDHomeRun endpoints, SSDP discovery."""
