"""Run student code in a separate, limited worker process and talk to it through a safe codec."""
