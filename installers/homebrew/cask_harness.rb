# Evaluates a cask file under a minimal stand-in of Homebrew's cask DSL and prints, for each
# of the four arch/os pairs, the url and sha256 Homebrew would resolve (one JSON object per
# line). Used by the tests to compare the generated cask with SHA256SUMS without Homebrew.
#
#   ruby installers/homebrew/cask_harness.rb dist/homebrew/codex.rb
require "json"

class CaskStanzas
  PAIRS = [
    [:arm, :macos, :arm],
    [:intel, :macos, :intel],
    [:arm, :linux, :arm64_linux],
    [:intel, :linux, :x86_64_linux],
  ].freeze

  attr_reader :record

  def initialize(cpu, system)
    @cpu = cpu
    @system = system
    @record = { "binaries" => [], "completions" => [], "zap" => [] }
  end

  # `arch arm: ..., intel: ...` declares; bare `arch` (inside strings) reads the current value.
  def arch(values = nil)
    return @arch_value if values.nil?

    @arch_value = values.fetch(@cpu)
  end

  def os(values = nil)
    return @os_value if values.nil?

    @os_value = values.fetch(@system)
  end

  def version(value = nil)
    return @version if value.nil?

    @version = value
    @record["version"] = value
  end

  def sha256(values)
    key = PAIRS.find { |c, s, _| c == @cpu && s == @system }[2]
    @record["sha256"] = values.fetch(key)
    @record["sha256_keys"] = values.keys.map(&:to_s).sort
  end

  def url(value, **_options) = @record["url"] = value
  def name(value) = @record["name"] = value
  def desc(value) = @record["desc"] = value
  def homepage(value) = @record["homepage"] = value
  def binary(source, target: nil) = @record["binaries"] << [source, target]
  def zap(**what) = @record["zap"] << what.transform_keys(&:to_s)

  def generate_completions_from_executable(executable, *args, **options)
    @record["completions"] << { "executable" => executable, "args" => args,
                                "base_name" => options[:base_name] }
  end

  def livecheck(&block)
    check = Livecheck.new
    check.instance_eval(&block)
    @record["livecheck"] = check.settings
  end

  class Livecheck
    attr_reader :settings

    def initialize = @settings = {}
    def url(value) = @settings["url"] = value.to_s
    def strategy(value) = @settings["strategy"] = value.to_s
  end
end

def cask(token, &block)
  CaskStanzas::PAIRS.each do |cpu, system, _|
    stanzas = CaskStanzas.new(cpu, system)
    stanzas.instance_eval(&block)
    puts JSON.generate({ "token" => token, "arch" => cpu.to_s, "os" => system.to_s }
                       .merge(stanzas.record))
  end
end

load ARGV.fetch(0)
