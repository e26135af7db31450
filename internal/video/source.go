package video

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// openSource opens the request's source for reading: a regular file under
// MediaRoot, or a URL downloaded into staging. ffmpeg reads the open file
// (as /dev/fd/3), so the file checked is the file read.
func (e *Enhancer) openSource(ctx context.Context, req Request, staging string) (*os.File, error) {
	if req.Path != "" {
		return e.openLocal(req.Path)
	}
	lower := strings.ToLower(req.URL)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") {
		scheme, _, _ := strings.Cut(req.URL, ":")
		return nil, fail(ErrBadRequest, "source scheme %q is not supported by the ffmpeg enhancer (https://, or a path under MEDIA_ROOT)", trunc(scheme, 20))
	}
	return e.download(ctx, req.URL, staging)
}

// within reports whether p is root or under it (both clean and absolute).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func (e *Enhancer) openLocal(src string) (*os.File, error) {
	if strings.ContainsRune(src, 0) {
		return nil, fail(ErrBadRequest, "source path contains a NUL byte")
	}
	root, err := filepath.EvalSymlinks(e.cfg.MediaRoot)
	if err != nil {
		return nil, fail(ErrUnreadable, "media root %s: %v", e.cfg.MediaRoot, errors.Unwrap(err))
	}
	p := src
	if !filepath.IsAbs(p) {
		p = filepath.Join(e.cfg.MediaRoot, p)
	}
	p = filepath.Clean(p)
	if !within(e.cfg.MediaRoot, p) && !within(root, p) {
		return nil, fail(ErrBadRequest, "source path %q escapes the media root", trunc(src, 80))
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fail(ErrUnreadable, "source %q does not exist under the media root", trunc(src, 80))
		}
		return nil, fail(ErrUnreadable, "source %q: %v", trunc(src, 80), errors.Unwrap(err))
	}
	if !within(root, real) {
		return nil, fail(ErrBadRequest, "source path %q escapes the media root through a symbolic link", trunc(src, 80))
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, fail(ErrUnreadable, "source %q cannot be opened: %v", trunc(src, 80), errors.Unwrap(err))
	}
	// A link swapped between the check and the open: check what was opened.
	if opened, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil && !within(root, opened) {
		f.Close()
		return nil, fail(ErrBadRequest, "source path %q escapes the media root", trunc(src, 80))
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fail(ErrUnreadable, "source %q is not a regular file", trunc(src, 80))
	}
	return f, nil
}

// download fetches a URL source into staging, bounded in size and time.
func (e *Enhancer) download(ctx context.Context, src, staging string) (*os.File, error) {
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return nil, fail(ErrBadRequest, "source is not a URL with a host")
	}
	if u.User != nil {
		return nil, fail(ErrBadRequest, "source URL must not carry credentials")
	}
	if u.Scheme == "http" && !e.cfg.AllowHTTP {
		return nil, fail(ErrBadRequest, "source URL must be https://")
	}
	shown := u.Scheme + "://" + u.Host + trunc(u.Path, 80) // no query: signed URLs carry secrets there
	ctx, cancel := context.WithTimeout(ctx, e.cfg.DownloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, fail(ErrBadRequest, "source URL: %v", err)
	}
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		if c := context.Cause(ctx); c != nil && ctx.Err() != nil && errors.Is(c, context.DeadlineExceeded) {
			return nil, fail(ErrTransient, "downloading %s: no answer within %s", shown, e.cfg.DownloadTimeout)
		}
		return nil, fail(ErrTransient, "downloading %s: %v", shown, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500:
		return nil, fail(ErrTransient, "downloading %s: HTTP %d", shown, resp.StatusCode)
	default:
		return nil, fail(ErrUnreadable, "downloading %s: HTTP %d", shown, resp.StatusCode)
	}
	if resp.ContentLength > e.cfg.MaxSourceBytes {
		return nil, fail(ErrUnreadable, "source %s is %d bytes, more than the limit of %d", shown, resp.ContentLength, e.cfg.MaxSourceBytes)
	}
	f, err := os.CreateTemp(staging, "source-")
	if err != nil {
		return nil, fail(ErrTranscode, "creating the download file: %v", err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, e.cfg.MaxSourceBytes+1))
	if err == nil && n > e.cfg.MaxSourceBytes {
		f.Close()
		return nil, fail(ErrUnreadable, "source %s is more than the limit of %d bytes", shown, e.cfg.MaxSourceBytes)
	}
	if err != nil {
		f.Close()
		if ctx.Err() != nil && context.Cause(ctx) != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fail(ErrTransient, "downloading %s: not finished within %s", shown, e.cfg.DownloadTimeout)
		}
		return nil, fail(ErrTransient, "downloading %s: %v", shown, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fail(ErrTranscode, "%v", err)
	}
	return f, nil
}
