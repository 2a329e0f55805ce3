# Locustfile of tests/integration/locust_real.rs: one in ten requests fails (HTTP 500), so the run has
# failures to count. TARGET_HOST and CUSTOM_VAR come from the LocustTest's env.variables,
# through the environment the builders produce.
import os

from locust import HttpUser, constant_throughput, task

assert os.environ["CUSTOM_VAR"] == "static-value", "env.variables did not reach Locust"


class Visitor(HttpUser):
    host = os.environ["TARGET_HOST"]
    wait_time = constant_throughput(5)

    @task(9)
    def ok(self):
        self.client.get("/ok")

    @task(1)
    def fail(self):
        self.client.get("/fail")
