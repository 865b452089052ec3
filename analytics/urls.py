from django.urls import path

from analytics import api, api_reports, reports, views

app_name = "analytics"
urlpatterns = [
    path("reports/", views.report, name="overview"),
    path("reports/orders/", views.order_list, name="order_list"),
    path("reports/orders/import/", views.order_import, name="order_import"),
    path("reports/rfm/save/", views.rfm_save, name="rfm_save"),
    path("reports/predict/save/", views.predict_save, name="predict_save"),
    path("reports/predict/refit/", views.predict_refit, name="predict_refit"),
    path("reports/<slug:name>/", views.report, name="report"),
    path("reports/<slug:name>/export.<str:fmt>", views.export, name="export"),
    path("api/v1/orders/", api.OrderListCreate.as_view(), name="api_orders"),
    path("api/v1/customers/<int:pk>/orders/", api.CustomerOrderList.as_view(), name="api_customer_orders"),
    path("api/v1/orders/<int:pk>/refund/", api.OrderRefund.as_view(), name="api_order_refund"),
    *[
        path(f"api/v1/reports/{name}/", api_reports.report_view(name), name=f"api_report_{name}")
        for name in reports.REPORTS
    ],
]
