G1 X145.443 Y106.057 E6.58568 F3600
G1 X145.443 Y108.943 E6.67137
G1 X142.557 Y108.943 E6.75705
G1 X142.557 Y106.117 E6.84096
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E6.94784
G1 X145.8 Y109.3 E7.05473
G1 X142.2 Y109.3 E7.16162
G1 X142.2 Y105.76 E7.26673
G1 X142.586 Y105.804
G1 E.76673 F2400
G92 E0
G1 X144.524 Y106.253 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400544
G1 F3600
G1 X145.086 Y106.816 E6.52365
G1 X145.086 Y107.322 E6.53869
G1 X144.178 Y106.414 E6.57685
G1 X143.673 Y106.414 E6.59189
G1 X145.086 Y107.827 E6.65131
G1 X145.086 Y108.333 E6.66635
G1 X143.167 Y106.414 E6.74705
G1 X142.914 Y106.414 E6.75457
G1 X142.914 Y106.667 E6.76209
G1 X144.833 Y108.586 E6.84278
G1 X144.327 Y108.586 E6.85782
G1 X142.914 Y107.173 E6.91724
G1 X142.914 Y107.679 E6.93228
G1 X143.821 Y108.586 E6.97044
G1 X143.316 Y108.586 E6.98548
G1 X142.753 Y108.024 E7.00912
;LAYER_CHANGE
;Z:0.4
;HEIGHT:0.2
G1 Z.4 F3600
M104 S212 ; set temperature
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.0948
G1 X145.443 Y108.943 E7.18049
G1 X142.557 Y108.943 E7.26617
G1 X142.557 Y106.117 E7.35007
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45696
G1 X145.8 Y109.3 E7.56385
G1 X142.2 Y109.3 E7.67074
G1 X142.2 Y105.76 E7.77585
G1 X142.586 Y105.804
G1 E1.27585 F2400
G92 E0
G1 X145.247 Y108.024 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400544
G1 F3600
G1 X144.684 Y108.586 E6.52365
G1 X144.178 Y108.586 E6.53869
G1 X145.086 Y107.678 E6.57685
G1 X145.086 Y107.173 E6.59189
G1 X143.673 Y108.586 E6.65131
G1 X143.167 Y108.586 E6.66635
G1 X145.086 Y106.667 E6.74705
G1 X145.086 Y106.414 E6.75457
G1 X144.833 Y106.414 E6.76209
G1 X142.914 Y108.333 E6.84278
G1 X142.914 Y107.827 E6.85782
G1 X144.327 Y106.414 E6.91724
G1 X143.821 Y106.414 E6.93228
G1 X142.914 Y107.321 E6.97044
G1 X142.914 Y106.816 E6.98548
G1 X143.476 Y106.253 E7.00912
;LAYER_CHANGE
;Z:0.6
;HEIGHT:0.2
G1 Z.6 F3600
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.0948
G1 X145.443 Y108.943 E7.18049
G1 X142.557 Y108.943 E7.26617
G1 X142.557 Y106.117 E7.35007
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45696
G1 X145.8 Y109.3 E7.56385
G1 X142.2 Y109.3 E7.67074
G1 X142.2 Y105.76 E7.77585
G1 X142.586 Y105.804
G1 E1.27585 F2400
G92 E0
G1 X144.524 Y106.253 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400541
G1 F3600
G1 X145.086 Y106.816 E6.52365
G1 X145.086 Y107.322 E6.53869
G1 X144.178 Y106.414 E6.57684
G1 X143.673 Y106.414 E6.59188
G1 X145.086 Y107.827 E6.65131
G1 X145.086 Y108.333 E6.66635
G1 X143.167 Y106.414 E6.74705
G1 X142.914 Y106.414 E6.75456
G1 X142.914 Y106.667 E6.76208
G1 X144.833 Y108.586 E6.84277
G1 X144.327 Y108.586 E6.85781
G1 X142.914 Y107.173 E6.91724
G1 X142.914 Y107.679 E6.93227
G1 X143.821 Y108.586 E6.97043
G1 X143.316 Y108.586 E6.98547
G1 X142.753 Y108.024 E7.00911
M106 S249.9
;LAYER_CHANGE
;Z:0.8
;HEIGHT:0.2
G1 Z.8 F3600
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.09479
G1 X145.443 Y108.943 E7.18048
G1 X142.557 Y108.943 E7.26616
G1 X142.557 Y106.117 E7.35006
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45695
G1 X145.8 Y109.3 E7.56384
G1 X142.2 Y109.3 E7.67073
G1 X142.2 Y105.76 E7.77584
G1 X142.586 Y105.804
G1 E1.27584 F2400
G92 E0
G1 X145.247 Y108.024 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400541
G1 F3600
G1 X144.684 Y108.586 E6.52365
G1 X144.178 Y108.586 E6.53869
G1 X145.086 Y107.678 E6.57684
G1 X145.086 Y107.173 E6.59188
G1 X143.673 Y108.586 E6.65131
G1 X143.167 Y108.586 E6.66635
G1 X145.086 Y106.667 E6.74705
G1 X145.086 Y106.414 E6.75456
G1 X144.833 Y106.414 E6.76208
G1 X142.914 Y108.333 E6.84277
G1 X142.914 Y107.827 E6.85781
G1 X144.327 Y106.414 E6.91724
G1 X143.821 Y106.414 E6.93227
G1 X142.914 Y107.321 E6.97043
G1 X142.914 Y106.816 E6.98547
G1 X143.476 Y106.253 E7.00911
;LAYER_CHANGE
;Z:1
;HEIGHT:0.2
G1 Z1 F3600
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.09479
G1 X145.443 Y108.943 E7.18048
G1 X142.557 Y108.943 E7.26616
G1 X142.557 Y106.117 E7.35006
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45695
G1 X145.8 Y109.3 E7.56384
G1 X142.2 Y109.3 E7.67073
G1 X142.2 Y105.76 E7.77584
G1 X142.586 Y105.804
G1 E1.27584 F2400
G92 E0
G1 X144.524 Y106.253 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400541
G1 F3600
G1 X145.086 Y106.816 E6.52365
G1 X145.086 Y107.322 E6.53869
G1 X144.178 Y106.414 E6.57684
G1 X143.673 Y106.414 E6.59188
G1 X145.086 Y107.827 E6.65131
G1 X145.086 Y108.333 E6.66635
G1 X143.167 Y106.414 E6.74705
G1 X142.914 Y106.414 E6.75456
G1 X142.914 Y106.667 E6.76208
G1 X144.833 Y108.586 E6.84277
G1 X144.327 Y108.586 E6.85781
G1 X142.914 Y107.173 E6.91724
G1 X142.914 Y107.679 E6.93227
G1 X143.821 Y108.586 E6.97043
G1 X143.316 Y108.586 E6.98547
G1 X142.753 Y108.024 E7.00911
;LAYER_CHANGE
;Z:1.2
;HEIGHT:0.2
G1 Z1.2 F3600
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.09479
G1 X145.443 Y108.943 E7.18048
G1 X142.557 Y108.943 E7.26616
G1 X142.557 Y106.117 E7.35006
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45695
G1 X145.8 Y109.3 E7.56384
G1 X142.2 Y109.3 E7.67073
G1 X142.2 Y105.76 E7.77584
G1 X142.586 Y105.804
G1 E1.27584 F2400
G92 E0
G1 X145.247 Y108.024 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400541
G1 F3600
G1 X144.684 Y108.586 E6.52365
G1 X144.178 Y108.586 E6.53869
G1 X145.086 Y107.678 E6.57684
G1 X145.086 Y107.173 E6.59188
G1 X143.673 Y108.586 E6.65131
G1 X143.167 Y108.586 E6.66635
G1 X145.086 Y106.667 E6.74705
G1 X145.086 Y106.414 E6.75456
G1 X144.833 Y106.414 E6.76208
G1 X142.914 Y108.333 E6.84277
G1 X142.914 Y107.827 E6.85781
G1 X144.327 Y106.414 E6.91724
G1 X143.821 Y106.414 E6.93227
G1 X142.914 Y107.321 E6.97043
G1 X142.914 Y106.816 E6.98547
G1 X143.476 Y106.253 E7.00911
;LAYER_CHANGE
;Z:1.4
;HEIGHT:0.2
G1 Z1.4 F3600
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.09479
G1 X145.443 Y108.943 E7.18048
G1 X142.557 Y108.943 E7.26616
G1 X142.557 Y106.117 E7.35006
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45695
G1 X145.8 Y109.3 E7.56384
G1 X142.2 Y109.3 E7.67073
G1 X142.2 Y105.76 E7.77584
G1 X142.586 Y105.804
G1 E1.27584 F2400
G92 E0
G1 X144.524 Y106.253 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400541
G1 F3600
G1 X145.086 Y106.816 E6.52365
G1 X145.086 Y107.322 E6.53869
G1 X144.178 Y106.414 E6.57684
G1 X143.673 Y106.414 E6.59188
G1 X145.086 Y107.827 E6.65131
G1 X145.086 Y108.333 E6.66635
G1 X143.167 Y106.414 E6.74705
G1 X142.914 Y106.414 E6.75456
G1 X142.914 Y106.667 E6.76208
G1 X144.833 Y108.586 E6.84277
G1 X144.327 Y108.586 E6.85781
G1 X142.914 Y107.173 E6.91724
G1 X142.914 Y107.679 E6.93227
G1 X143.821 Y108.586 E6.97043
G1 X143.316 Y108.586 E6.98547
G1 X142.753 Y108.024 E7.00911
;LAYER_CHANGE
;Z:1.6
;HEIGHT:0.2
G1 Z1.6 F3600
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.09479
G1 X145.443 Y108.943 E7.18048
G1 X142.557 Y108.943 E7.26616
G1 X142.557 Y106.117 E7.35006
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45695
G1 X145.8 Y109.3 E7.56384
G1 X142.2 Y109.3 E7.67073
G1 X142.2 Y105.76 E7.77584
G1 X142.586 Y105.804
G1 E1.27584 F2400
G92 E0
G1 X145.247 Y108.024 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400541
G1 F3600
G1 X144.684 Y108.586 E6.52365
G1 X144.178 Y108.586 E6.53869
G1 X145.086 Y107.678 E6.57684
G1 X145.086 Y107.173 E6.59188
G1 X143.673 Y108.586 E6.65131
G1 X143.167 Y108.586 E6.66635
G1 X145.086 Y106.667 E6.74705
G1 X145.086 Y106.414 E6.75456
G1 X144.833 Y106.414 E6.76208
G1 X142.914 Y108.333 E6.84277
G1 X142.914 Y107.827 E6.85781
G1 X144.327 Y106.414 E6.91724
G1 X143.821 Y106.414 E6.93227
G1 X142.914 Y107.321 E6.97043
G1 X142.914 Y106.816 E6.98547
G1 X143.476 Y106.253 E7.00911
;LAYER_CHANGE
;Z:1.8
;HEIGHT:0.2
G1 Z1.8 F3600
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.09479
G1 X145.443 Y108.943 E7.18048
G1 X142.557 Y108.943 E7.26616
G1 X142.557 Y106.117 E7.35006
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45695
G1 X145.8 Y109.3 E7.56384
G1 X142.2 Y109.3 E7.67073
G1 X142.2 Y105.76 E7.77584
G1 X142.586 Y105.804
G1 E1.27584 F2400
G92 E0
G1 X144.524 Y106.253 F3600
G1 E6.5 F2400
;TYPE:Solid infill
;WIDTH:0.400544
G1 F3600
G1 X145.086 Y106.816 E6.52365
G1 X145.086 Y107.322 E6.53869
G1 X144.178 Y106.414 E6.57685
G1 X143.673 Y106.414 E6.59189
G1 X145.086 Y107.827 E6.65131
G1 X145.086 Y108.333 E6.66635
G1 X143.167 Y106.414 E6.74705
G1 X142.914 Y106.414 E6.75457
G1 X142.914 Y106.667 E6.76209
G1 X144.833 Y108.586 E6.84278
G1 X144.327 Y108.586 E6.85782
G1 X142.914 Y107.173 E6.91724
G1 X142.914 Y107.679 E6.93228
G1 X143.821 Y108.586 E6.97044
G1 X143.316 Y108.586 E6.98548
G1 X142.753 Y108.024 E7.00912
;LAYER_CHANGE
;Z:2
;HEIGHT:0.2
G1 Z2 F3600
G1 X142.557 Y106.057
;TYPE:Perimeter
;WIDTH:0.399999
G1 X145.443 Y106.057 E7.0948
G1 X145.443 Y108.943 E7.18049
G1 X142.557 Y108.943 E7.26617
G1 X142.557 Y106.117 E7.35007
G1 X142.2 Y105.7
;TYPE:External perimeter
G1 X145.8 Y105.7 E7.45696
G1 X145.8 Y109.3 E7.56385
G1 X142.2 Y109.3 E7.67074
G1 X142.2 Y105.76 E7.77585
G1 X142.586 Y105.804
G1 E1.27585 F2400
G92 E0
G1 X145.247 Y108.024 F3600
G1 E6.5 F2400
;TYPE:Top solid infill
;WIDTH:0.400544
G1 F3600
G1 X144.684 Y108.586 E6.52365
G1 X144.178 Y108.586 E6.53869
G1 X145.086 Y107.678 E6.57685
G1 X145.086 Y107.173 E6.59189
G1 X143.673 Y108.586 E6.65131
G1 X143.167 Y108.586 E6.66635
G1 X145.086 Y106.667 E6.74705
G1 X145.086 Y106.414 E6.75457
G1 X144.833 Y106.414 E6.76209
G1 X142.914 Y108.333 E6.84278
G1 X142.914 Y107.827 E6.85782
G1 X144.327 Y106.414 E6.91724
G1 X143.821 Y106.414 E6.93228
G1 X142.914 Y107.321 E6.97044
G1 X142.914 Y106.816 E6.98548
G1 X143.476 Y106.253 E7.00912
; filament used [mm] = 12.76
; filament used [cm3] = 0.03
; filament used [g] = 0.04
; total filament used [g] = 0.04
; total filament cost = 0.00
; estimated printing time (normal mode) = 31s
; estimated printing time (silent mode) = 30s

; prusaslicer_config = begin
; avoid_crossing_perimeters = 0
; avoid_crossing_perimeters_max_detour = 0
; bed_custom_model = C:\\Users\\usmfi\\Downloads\\Baseplate.stl
; bed_custom_texture = C:\\Users\\usmfi\\Downloads\\aniso_baseplate.png
; bed_shape = -10x-15,298x-15,298x230,-10x230
; bed_temperature = 55
; before_layer_gcode = 
; between_objects_gcode = 
; bottom_fill_pattern = monotonic
; bottom_solid_layers = 2
; bottom_solid_min_thickness = 0
; bridge_acceleration = 0
; bridge_angle = 0
; bridge_fan_speed = 100
; bridge_flow_ratio = 1
; bridge_speed = 60
; brim_separation = 0
; brim_type = outer_only
; brim_width = 0
; clip_multipart_objects = 1
; color_change_gcode = M600
; complete_objects = 0
; cooling = 1
; cooling_tube_length = 5
; cooling_tube_retraction = 91.5
; default_acceleration = 0
; default_filament_profile = 
; default_print_profile = 
; deretract_speed = 0
; disable_fan_first_layers = 3
; dont_support_bridges = 1
; draft_shield = disabled
; duplicate_distance = 6
; elefant_foot_compensation = 0
; end_filament_gcode = "; Filament-specific end gcode \n;END gcode for filament\n"
; end_gcode = M400\n\nM104 S0 T0;turn off temperature for TOOL 0\n\nM106 P1 S0;turn off fan\nM140 S0\nG28 X0  ; home X axis\n\nG91;rel move\nG1 Z20 F900;move down 20 mm\nG90;abs pos\n\nM84     ; disable motors\n
; ensure_vertical_shell_thickness = 0
; external_perimeter_extrusion_width = 0.4
; external_perimeter_speed = 60
; external_perimeters_first = 0
; extra_loading_move = -2
; extra_perimeters = 1
; extruder_clearance_height = 20
; extruder_clearance_radius = 20
; extruder_colour = ""
; extruder_offset = 0x0
; extrusion_axis = E
; extrusion_multiplier = 1
; extrusion_width = 0.4
; fan_always_on = 1
; fan_below_layer_time = 60
; filament_colour = #010707
; filament_cooling_final_speed = 3.4
; filament_cooling_initial_speed = 2.2
; filament_cooling_moves = 4
; filament_cost = 0
; filament_density = 1.248
; filament_diameter = 1.75
; filament_load_time = 0
; filament_loading_speed = 28
; filament_loading_speed_start = 3
; filament_max_volumetric_speed = 0
; filament_minimal_purge_on_wipe_tower = 15
; filament_notes = ""
; filament_ramming_parameters = "120 100 6.6 6.8 7.2 7.6 7.9 8.2 8.7 9.4 9.9 10.0| 0.05 6.6 0.45 6.8 0.95 7.8 1.45 8.3 1.95 9.7 2.45 10 2.95 7.6 3.45 7.6 3.95 7.6 4.45 7.6 4.95 7.6"
; filament_settings_id = "BASF Ultrafuse PLA BLACK"
; filament_soluble = 0
; filament_spool_weight = 0
; filament_toolchange_delay = 0
; filament_type = PLA
; filament_unload_time = 0
; filament_unloading_speed = 90
; filament_unloading_speed_start = 100
; filament_vendor = (Unknown)
; fill_angle = 45
; fill_density = 20%
; fill_pattern = stars
; first_layer_acceleration = 0
; first_layer_acceleration_over_raft = 0
; first_layer_bed_temperature = 55
; first_layer_extrusion_width = 0.4
; first_layer_height = 0.2
; first_layer_speed = 60
; first_layer_speed_over_raft = 30
; first_layer_temperature = 215
; full_fan_speed_layer = 0
; fuzzy_skin = none
; fuzzy_skin_point_dist = 0.8
; fuzzy_skin_thickness = 0.3
; gap_fill_enabled = 1
; gap_fill_speed = 60
; gcode_comments = 0
; gcode_flavor = marlin
; gcode_label_objects = 0
; gcode_resolution = 0.0125
; gcode_substitutions = 
; high_current_on_filament_swap = 0
; host_type = octoprint
; infill_acceleration = 0
; infill_anchor = 600%
; infill_anchor_max = 50
; infill_every_layers = 1
; infill_extruder = 1
; infill_extrusion_width = 0.4
; infill_first = 0
; infill_only_where_needed = 0
; infill_overlap = 0
; infill_speed = 60
; interface_shells = 0
; ironing = 0
; ironing_flowrate = 15%
; ironing_spacing = 0.1
; ironing_speed = 15
; ironing_type = top
; layer_gcode = 
; layer_height = 0.2
; machine_limits_usage = time_estimate_only
; machine_max_acceleration_e = 10000,5000
; machine_max_acceleration_extruding = 1000,1250
; machine_max_acceleration_retracting = 1000,1250
; machine_max_acceleration_travel = 1500,1250
; machine_max_acceleration_x = 1000,1000
; machine_max_acceleration_y = 1000,1000
; machine_max_acceleration_z = 500,200
; machine_max_feedrate_e = 33,120
; machine_max_feedrate_x = 180,200
; machine_max_feedrate_y = 180,200
; machine_max_feedrate_z = 30,12
; machine_max_jerk_e = 2.5,2.5
; machine_max_jerk_x = 10,10
; machine_max_jerk_y = 10,10
; machine_max_jerk_z = 0.2,0.4
; machine_min_extruding_rate = 0,0
; machine_min_travel_rate = 0,0
; max_fan_speed = 100
; max_layer_height = 0
; max_print_height = 140
; max_print_speed = 80
; max_volumetric_extrusion_rate_slope_negative = 0
; max_volumetric_extrusion_rate_slope_positive = 0
; max_volumetric_speed = 0
; min_bead_width = 85%
; min_fan_speed = 35
; min_feature_size = 25%
; min_layer_height = 0.07
; min_print_speed = 60
; min_skirt_length = 15
; mmu_segmented_region_max_width = 0
; notes = 
; nozzle_diameter = 0.4
; only_retract_when_crossing_perimeters = 0
; ooze_prevention = 0
; output_filename_format = [input_filename_base].gcode
; overhangs = 1
; parking_pos_retraction = 92
; pause_print_gcode = M601
; perimeter_acceleration = 0
; perimeter_extruder = 1
; perimeter_extrusion_width = 0.4
; perimeter_generator = arachne
; perimeter_speed = 60
; perimeters = 2
; physical_printer_settings_id = 
; post_process = 
; print_settings_id = Anisoprint A4 - 0.2 mm
; printer_model = 
; printer_notes = 
; printer_settings_id = Anisoprint A4
; printer_technology = FFF
; printer_variant = 
; printer_vendor = 
; raft_contact_distance = 0.1
; raft_expansion = 1.5
; raft_first_layer_density = 90%
; raft_first_layer_expansion = 3
; raft_layers = 0
; remaining_times = 0
; resolution = 0
; retract_before_travel = 2
; retract_before_wipe = 0%
; retract_layer_change = 0
; retract_length = 6.5
; retract_length_toolchange = 10
; retract_lift = 0
; retract_lift_above = 0
; retract_lift_below = 0
; retract_restart_extra = 0
; retract_restart_extra_toolchange = 0
; retract_speed = 40
; seam_position = aligned
; silent_mode = 1
; single_extruder_multi_material = 0
; single_extruder_multi_material_priming = 1
; skirt_distance = 6
; skirt_height = 1
; skirts = 0
; slice_closing_radius = 0.049
; slicing_mode = regular
; slowdown_below_layer_time = 0
; small_perimeter_speed = 60
; solid_infill_below_area = 70
; solid_infill_every_layers = 0
; solid_infill_extruder = 1
; solid_infill_extrusion_width = 0.4
; solid_infill_speed = 60
; spiral_vase = 0
; standby_temperature_delta = -5
; start_filament_gcode = "; Filament gcode\n"
; start_gcode = ;CUSTOM SLICING PROFILE FOR ANISOPRINT A4\nT0 R ; switch extruder\nG28 ; home all axes\nG1 Z10 F900 ; lift nozzle\n\nM106 P1 S255; max Fanspeed as workaround\n
; support_material = 0
; support_material_angle = 0
; support_material_auto = 1
; support_material_bottom_contact_distance = 0
; support_material_bottom_interface_layers = -1
; support_material_buildplate_only = 0
; support_material_closing_radius = 2
; support_material_contact_distance = 0.2
; support_material_enforce_layers = 0
; support_material_extruder = 1
; support_material_extrusion_width = 0.35
; support_material_interface_contact_loops = 0
; support_material_interface_extruder = 1
; support_material_interface_layers = 3
; support_material_interface_pattern = rectilinear
; support_material_interface_spacing = 0
; support_material_interface_speed = 100%
; support_material_pattern = rectilinear
; support_material_spacing = 2.5
; support_material_speed = 60
; support_material_style = grid
; support_material_synchronize_layers = 0
; support_material_threshold = 0
; support_material_with_sheath = 1
; support_material_xy_spacing = 50%
; temperature = 212
; template_custom_gcode = 
; thick_bridges = 1
; thin_walls = 1
; threads = 6
; thumbnails = 
; thumbnails_format = PNG
; toolchange_gcode = 
; top_fill_pattern = monotonic
; top_infill_extrusion_width = 0.4
; top_solid_infill_speed = 60
; top_solid_layers = 2
; top_solid_min_thickness = 0
; travel_speed = 60
; travel_speed_z = 0
; use_firmware_retraction = 0
; use_relative_e_distances = 0
; use_volumetric_e = 0
; variable_layer_height = 1
; wall_distribution_count = 1
; wall_transition_angle = 10
; wall_transition_filter_deviation = 25%
; wall_transition_length = 100%
; wipe = 0
; wipe_into_infill = 0
; wipe_into_objects = 0
; wipe_tower = 0
; wipe_tower_bridging = 10
; wipe_tower_brim_width = 2
; wipe_tower_no_sparse_layers = 0
; wipe_tower_rotation_angle = 0
; wipe_tower_width = 60
; wipe_tower_x = 180
; wipe_tower_y = 140
; wiping_volumes_extruders = 70,70
; wiping_volumes_matrix = 0
; xy_size_compensation = 0
; z_offset = 0
; prusaslicer_config = end
