"""A native BGP-4 speaker in asyncio (the API is described here once the runtime lands)."""
