"""Local fakes of the providers' APIs, served on 127.0.0.1 during tests."""
