// nginx's verify-cache key for authgate (njs 0.7.9 or later; see deploy/nginx.py).
//
// The key is the gateway's verdict epoch (a file it rewrites whenever a verdict may change)
// and a SHA-256 of the one session cookie: never the cookie itself, since nginx writes each
// key into its cache file. "" (nothing cached, the gateway is asked) when the request is not
// the plain case: no session cookie or more than one, an Authorization header, no readable epoch.
var crypto = require('crypto');
var fs = require('fs');

function key(r) {
    if (r.headersIn['Authorization'] !== undefined) {
        return '';
    }
    var name = r.variables.authgate_session_cookie;
    var cookies = r.variables.http_cookie || '';
    // The name exactly once in the whole header, and a value of a JWT's characters between
    // spaces: then this reading and the gateway's (which refuses a second copy) find the same
    // one value. Anything unusual is simply not cached.
    if (cookies.split(name).length !== 2) {
        return '';
    }
    var parts = cookies.split(';');
    var found = null;
    for (var i = 0; i < parts.length; i++) {
        var eq = parts[i].indexOf('=');
        if (eq >= 0 && parts[i].slice(0, eq).trim() === name) {
            var value = /^[ \t]*([A-Za-z0-9._-]+)[ \t]*$/.exec(parts[i].slice(eq + 1));
            found = value ? value[1] : null;
        }
    }
    if (!found) {
        return '';
    }
    var epoch;
    try {
        epoch = fs.readFileSync(r.variables.authgate_verify_epoch, 'utf8').trim();
    } catch (e) {
        return '';
    }
    if (!epoch) {
        return '';
    }
    return epoch + ':' + crypto.createHash('sha256').update(found).digest('hex');
}

export default {key};
