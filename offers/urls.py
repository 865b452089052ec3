from django.urls import path

from offers import api, views

app_name = "offers"
urlpatterns = [
    path("coupons/", views.template_list, name="template_list"),
    path("coupons/new/", views.template_new, name="template_new"),
    path("coupons/<int:pk>/", views.template_detail, name="template_detail"),
    path("coupons/<int:pk>/edit/", views.template_edit, name="template_edit"),
    path("coupons/<int:pk>/delete/", views.template_delete, name="template_delete"),
    path("coupons/<int:pk>/issue/", views.template_issue, name="template_issue"),
    path("coupons/<int:pk>/jobs/<int:job_pk>/", views.issue_job_status, name="issue_job_status"),
    path("coupons/redeem/", views.redeem, name="redeem"),
    path("customers/<int:pk>/coupons/issue/", views.customer_issue, name="customer_issue"),
    path("reports/coupons/", views.report, name="report"),
    path("c/<str:signed>/", views.customer_coupon, name="customer_coupon"),
    path("c/<str:signed>/qr.svg", views.customer_coupon_qr, name="customer_coupon_qr"),
    path("api/v1/coupons/templates/", api.TemplateListCreate.as_view(), name="api_templates"),
    path("api/v1/coupons/templates/<int:pk>/", api.TemplateDetail.as_view(), name="api_template"),
    path("api/v1/coupons/", api.CouponList.as_view(), name="api_coupons"),
    path("api/v1/coupons/issue/", api.CouponIssue.as_view(), name="api_issue"),
    path("api/v1/coupons/redeem/", api.CouponRedeem.as_view(), name="api_redeem"),
    path("api/v1/coupons/report/", api.CouponReport.as_view(), name="api_report"),
]
