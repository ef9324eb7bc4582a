"""The wizard's pages, one module each (page ids: ``wizard.ui.wizard.PageId``)."""

from wizard.ui.pages.file_page import FilePage
from wizard.ui.pages.import_page import ImportPage
from wizard.ui.pages.result_page import ResultPage
from wizard.ui.pages.strategy_page import StrategyPage
from wizard.ui.pages.validation_page import ValidationPage

__all__ = ["FilePage", "ImportPage", "ResultPage", "StrategyPage", "ValidationPage"]
