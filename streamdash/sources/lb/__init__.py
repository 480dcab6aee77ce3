"""Load-balancer sources: HAProxy stats CSV, Envoy admin, nginx stub_status.

``collect.LoadBalancers`` fetches every configured LB concurrently and returns
``collect.LbAnswers``; the per-kind modules hold pure parsers and a thin ``fetch``.
"""
