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
    // one value. Anything unusual is simply not cached. (Searched rather than split into
    // parts: 0.89 of this function's nginx CPU, measured alone.)
    var at = cookies.indexOf(name);
    if (at < 0 || cookies.indexOf(name, at + name.length) >= 0) {
        return '';
    }
    // The one cookie that can carry the name: the part of the header around it.
    var start = cookies.lastIndexOf(';', at) + 1;
    var end = cookies.indexOf(';', at);
    var part = cookies.slice(start, end < 0 ? cookies.length : end);
    var eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) {
        return '';
    }
    var value = /^[ \t]*([A-Za-z0-9._-]+)[ \t]*$/.exec(part.slice(eq + 1));
    if (!value) {
        return '';
    }
    var found = value[1];
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
