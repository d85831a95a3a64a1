from agentshare import AgentrixClient
import os
from datetime import datetime, timedelta

client = AgentrixClient(api_key=os.environ['AGENTRIX_API_KEY'])

# Calculate expiration date (30 days from now)
expires_at = (datetime.now() + timedelta(days=30)).isoformat()

try:
    share_link = client.share_links.create(
        task_id='task_1234567890abcdef',
        title='Login Bug Fix Results',
        description='Results from fixing the authentication issue',
        expires_at=expires_at,
        password='securepass123',
        permissions={
            'allow_download': True,
            'allow_comments': False,
            'show_metadata': True
        },
        max_views=100,
        notify_on_view=True
    )

    print(f'Share link created: {share_link.url}')
    print(f'Short URL: {share_link.short_url}')
    print(f'Share link ID: {share_link.share_link_id}')
except Exception as e:
    print(f'Error creating share link: {str(e)}')
