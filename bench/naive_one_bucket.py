"""The benchmark's baseline: the naive cdktf app, as the cdktf docs write it.
Imports the google provider package the usual way and synthesizes one bucket."""

import sys

from cdktf import App, TerraformStack
from cdktf_cdktf_provider_google.provider import GoogleProvider
from cdktf_cdktf_provider_google.storage_bucket import StorageBucket

app = App(outdir=sys.argv[1] if len(sys.argv) > 1 else "cdktf.out.naive")
stack = TerraformStack(app, "naive")
GoogleProvider(stack, "google", project="bench-project", region="us-east4")
StorageBucket(stack, "bucket", name="bench-bucket", location="US-EAST4")
app.synth()
