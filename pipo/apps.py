from django.apps import AppConfig


class PipoConfig(AppConfig):
    name = "pipo"
    verbose_name = "PIPO"
