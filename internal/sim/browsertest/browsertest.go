// Package browsertest starts the headless Chromium the browser tests drive.
// Only tests import it (it is not linked into the binary).
package browsertest

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's chromium binary; the /usr/bin wrapper adds
// flags of its own that get in the way of a test.
const ChromiumPath = "/usr/lib/chromium/chromium"

// Start starts a headless Chromium for the test, stopped when it ends.
// Without chromium the test skips, unless CAMVAULT_TEST_BROWSER=1 says it
// must run (as in CI). extra adds to the flags every test uses.
func Start(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CAMVAULT_TEST_BROWSER") == "1" {
			t.Fatalf("CAMVAULT_TEST_BROWSER=1 but %s is missing: apt-get install -y chromium", ChromiumPath)
		}
		t.Skipf("browser tests need %s (apt-get install -y chromium); set CAMVAULT_TEST_BROWSER=1 to make its absence a failure", ChromiumPath)
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// The machine's network is closed: no background connections.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("mute-audio", true),
	}, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}
