"""Provider clients: plain asyncio/aiohttp code with no Home Assistant imports.

Each module wraps one connectivity provider's API. The HTTP session is always passed in
(Home Assistant's shared session in the integration, a test session in tests), and every
failure is raised as one of the exceptions in :mod:`.errors`.
"""
