# The lab's minimal Rack SP around ruby-saml, written the way ruby-saml's README shows an application:
# settings from the IdP's metadata (IdpMetadataParser), an AuthnRequest on /login, the Response
# validated with Response#is_valid? on /acs, the user kept in a cookie session, /metadata, /whoami.
require 'json'
require 'rack'
require 'rack/session/cookie'
require 'onelogin/ruby-saml'

BASE = "http://127.0.0.1:#{ENV.fetch('LAB_PORT')}"

class LabSP
  def call(env)
    req = Rack::Request.new(env)
    case [req.request_method, req.path_info]
    when ['GET', '/login']
      redirect(OneLogin::RubySaml::Authrequest.new.create(saml_settings))
    when ['POST', '/acs']
      response = OneLogin::RubySaml::Response.new(req.params['SAMLResponse'], settings: saml_settings)
      if response.is_valid?
        req.session['nameid'] = response.nameid
        req.session['attributes'] = response.attributes.all.to_h
        redirect('/whoami')
      else
        [403, { 'Content-Type' => 'text/plain' }, ["SAML response refused: #{response.errors.join('; ')}"]]
      end
    when ['GET', '/metadata']
      [200, { 'Content-Type' => 'application/samlmetadata+xml' }, [OneLogin::RubySaml::Metadata.new.generate(saml_settings)]]
    when ['GET', '/whoami']
      if req.session['nameid']
        attrs = req.session['attributes'] || {}
        email = attrs['Email'] ? Array(attrs['Email']).join(';') : nil
        json(200, { email: email, name_id: req.session['nameid'], attributes: attrs })
      else
        json(401, { user: nil })
      end
    when ['GET', '/logout']
      req.session.clear
      redirect('/whoami')
    else
      [404, { 'Content-Type' => 'text/plain' }, ['not found']]
    end
  end

  private

  def saml_settings
    settings = OneLogin::RubySaml::IdpMetadataParser.new.parse(File.read(ENV.fetch('LAB_IDP_METADATA')))
    settings.assertion_consumer_service_url = "#{BASE}/acs"
    settings.sp_entity_id = "#{BASE}/metadata"
    settings.name_identifier_format = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'
    settings
  end

  def redirect(url)
    [302, { 'Location' => url, 'Content-Type' => 'text/plain' }, ['']]
  end

  def json(status, data)
    [status, { 'Content-Type' => 'application/json' }, [JSON.generate(data)]]
  end
end

use Rack::Session::Cookie, key: 'lab_sp_session', secret: ENV.fetch('LAB_SESSION_SECRET'), same_site: :lax
run LabSP.new
