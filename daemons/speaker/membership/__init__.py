"""Fast failure detection among the speakers of one layer-2 domain.

Every speaker sends HMAC-authenticated UDP heartbeats to every other every 100 ms and declares
a peer dead when it has not heard from it for a threshold (300 ms by default); a speaker that
stops on purpose says so (LEAVE) and is dropped at once. Plain standard-library Python.
"""
