"""`python -m tools.run_prometheus` scrapes every process `make run` starts, on its port."""

from tools.run_local import RunSettings, services
from tools.run_prometheus import local_jobs


def test_every_process_of_make_run_is_a_scrape_job():
    run = RunSettings()
    assert set(local_jobs(run)) == {name for name, _, _ in services(run)}


def test_each_job_scrapes_the_port_its_process_listens_on():
    run = RunSettings(dispute_port=18000, relay_metrics_port=19102, smtp_http_port=18026)
    jobs = local_jobs(run)
    assert (jobs["dispute-api"], jobs["dispute-relay"], jobs["smtp-sink"]) == (
        "127.0.0.1:18000", "127.0.0.1:19102", "127.0.0.1:18026")
