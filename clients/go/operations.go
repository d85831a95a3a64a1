package agentshare

// Operations maps every operationId of the agentshare OpenAPI document
// (/openapi.json) to the method of this package that performs it, as
// "Type.Method". Each method named here also has a context form (MethodContext),
// unless it takes a context itself.
var Operations = map[string]string{
	"healthz":       "Client.Health",
	"readyz":        "Client.Ready",
	"export_traces": "OTLPService.ExportTraces",

	"create_task":  "TasksService.Create",
	"get_task":     "TasksService.Get",
	"list_tasks":   "TasksService.List",
	"update_task":  "TasksService.Update",
	"send_message": "TasksService.SendMessage",

	"append_event":  "EventsService.Append",
	"list_events":   "EventsService.List",
	"stream_events": "EventsService.Stream",

	"upload_artifact":   "ArtifactsService.Upload",
	"list_artifacts":    "ArtifactsService.List",
	"download_artifact": "ArtifactsService.Download",
	"delete_artifact":   "ArtifactsService.Delete",

	"create_share_link":      "ShareLinksService.Create",
	"preview_share_link":     "ShareLinksService.Preview",
	"get_share_link":         "ShareLinksService.Get",
	"list_share_links":       "ShareLinksService.List",
	"update_share_link":      "ShareLinksService.Update",
	"revoke_share_link":      "ShareLinksService.Revoke",
	"revoke_all_share_links": "ShareLinksService.RevokeAll",
	"share_link_analytics":   "ShareLinksService.Analytics",
	"share_link_activity":    "ShareLinksService.Activity",
	"list_comments":          "ShareLinksService.Comments",
	"delete_comment":         "ShareLinksService.DeleteComment",

	"create_share_code":          "ShareCodesService.Create",
	"create_share_code_tasks":    "ShareCodesService.CreateViaTasks",
	"get_share_code":             "ShareCodesService.Get",
	"get_share_code_agentrix":    "ShareCodesService.GetViaAgentrix",
	"revoke_share_code":          "ShareCodesService.Revoke",
	"revoke_share_code_agentrix": "ShareCodesService.RevokeViaAgentrix",
	"exchange_share_code":        "ShareCodesService.Exchange",

	"list_pull_requests":   "PullRequestsService.List",
	"create_pull_request":  "PullRequestsService.Create",
	"get_pull_request":     "PullRequestsService.Get",
	"approve_pull_request": "PullRequestsService.Approve",
	"merge_pull_request":   "PullRequestsService.Merge",

	"create_webhook":  "WebhooksService.Create",
	"list_webhooks":   "WebhooksService.List",
	"get_webhook":     "WebhooksService.Get",
	"update_webhook":  "WebhooksService.Update",
	"delete_webhook":  "WebhooksService.Delete",
	"list_deliveries": "WebhooksService.Deliveries",
	"send_test_event": "WebhooksService.Test",

	"get_sharing_policy": "SettingsService.SharingPolicy",
	"put_sharing_policy": "SettingsService.UpdateSharingPolicy",

	"open_link":            "LinkViewer.Open",
	"submit":               "LinkViewer.Reveal",
	"download":             "LinkViewer.Download",
	"download_all":         "LinkViewer.DownloadAll",
	"post_comment":         "LinkViewer.PostComment",
	"verify_comment":       "LinkViewer.VerifyComment",
	"request_verification": "LinkViewer.RequestVerification",
	"confirm_verification": "LinkViewer.ConfirmVerification",
}
