package agentshare

import (
	"context"
	"net/http"
)

// SettingsService reads and sets the owner's sharing policy.
type SettingsService struct{ api *requester }

// SharingPolicy returns the owner's sharing policy.
func (s *SettingsService) SharingPolicy() (*SharingPolicy, error) {
	return s.SharingPolicyContext(context.Background())
}

// SharingPolicyContext is SharingPolicy with a context.
func (s *SettingsService) SharingPolicyContext(ctx context.Context) (*SharingPolicy, error) {
	var out SharingPolicy
	_, err := s.api.do(ctx, call{method: http.MethodGet, path: "/v1/settings/sharing"}, true, &out)
	return result(&out, err)
}

// UpdateSharingPolicy replaces the owner's sharing policy with policy, whole.
// It applies to links and codes made or changed from then on.
func (s *SettingsService) UpdateSharingPolicy(policy *SharingPolicy) (*SharingPolicy, error) {
	return s.UpdateSharingPolicyContext(context.Background(), policy)
}

// UpdateSharingPolicyContext is UpdateSharingPolicy with a context.
func (s *SettingsService) UpdateSharingPolicyContext(ctx context.Context, policy *SharingPolicy) (*SharingPolicy, error) {
	var out SharingPolicy
	_, err := s.api.do(ctx, call{method: http.MethodPut, path: "/v1/settings/sharing", json: policy}, true, &out)
	return result(&out, err)
}
