package server

import "github.com/sintgate/sintgate/dashboard"

// dashboardRoutes serves the embedded operator UI at /dashboard/ (the UI
// authenticates its API calls itself; the assets are public).
func (s *Server) dashboardRoutes() { dashboard.Mount(s.App) }
