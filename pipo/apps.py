from django.apps import AppConfig


class PipoConfig(AppConfig):
    name = "pipo"
    verbose_name = "PIPO"

    def ready(self) -> None:
        from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

        from pipo.heartbeat import worker_heartbeat_on_task
        from pipo.logging import (
            task_log_context_attach,
            task_log_context_enter,
            task_log_context_leave,
        )

        pre_enqueue.connect(task_log_context_attach, dispatch_uid="pipo-log-context")
        pre_execute.connect(task_log_context_enter, dispatch_uid="pipo-log-context")
        post_execute_in_worker.connect(task_log_context_leave, dispatch_uid="pipo-log-context")
        pre_execute.connect(worker_heartbeat_on_task, dispatch_uid="pipo-worker-heartbeat")
